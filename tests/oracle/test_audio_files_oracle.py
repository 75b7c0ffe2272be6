"""Audio tensors of real files: lssd's decode (lssd_probe audio) + log-mel (lssd_audio_probe)
vs the release's path (torchaudio.load, mean of channels, resample, MelSpectrogram,
AmplitudeToDB, CenterCrop) for every sample audio file. wav/flac must agree within 1e-3 dB;
mp3/opus differences are printed (decoder differences between torchaudio's backends and ours)."""
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchaudio
import torchvision.transforms as T

SRC = os.environ.get("LSSD_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("LSSD_BUILD_DIR", os.path.join(SRC, "build"))
PROBE = os.path.join(BUILD, "tests", "lssd_probe")
AUDIO_PROBE = os.path.join(BUILD, "tests", "lssd_audio_probe")


def release_clip_tensor(wave, sr, start, stop):
    x = wave[:, start:stop]
    if sr != 48000:
        x = torchaudio.functional.resample(x, sr, 48000)
    n = 144000
    x = x[:, :n] if x.shape[1] >= n else torch.nn.functional.pad(x, (0, n - x.shape[1]))
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=48000, n_fft=1024, hop_length=501, n_mels=96)(x)
    db = torchaudio.transforms.AmplitudeToDB()(mel)
    return T.CenterCrop([96, 288])(db)


def main():
    torch.set_num_threads(1)
    files = sorted(f for ext in ("wav", "flac", "mp3", "opus")
                   for f in glob.glob(os.path.join(SRC, "sample_data", "**", f"*.{ext}"), recursive=True))
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        # sample_data has no 48 kHz wav/flac: two generated ones (noise + tones, stereo, 4.2 s).
        for name, rate in (("gen_48k_stereo.wav", 48000), ("gen_48k_stereo.flac", 48000), ("gen_44k_mono.wav", 44100)):
            dst = os.path.join(tmp, name)
            subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"anoisesrc=d=4.2:c=pink:r={rate}:a=0.3:s=7",
                            "-f", "lavfi", "-i", f"sine=f=440:d=4.2:r={rate}", "-filter_complex",
                            "[0][1]amerge=inputs=2", "-ac", "2" if "stereo" in name else "1", dst], check=True)
            files.append(dst)
        for path in files:
            out = os.path.join(tmp, "probe_" + os.path.basename(path))
            os.makedirs(out)
            r = subprocess.run([PROBE, "audio", path, out], capture_output=True, text=True)
            rj = os.path.join(out, "result.json")
            res = json.load(open(rj)) if os.path.exists(rj) else json.loads(r.stdout.strip().splitlines()[-1])
            if res.get("skipped") or res.get("skipped_short"):
                print(f"skipped  {os.path.relpath(path, SRC)} (fewer than 2 samples)")
                continue
            assert r.returncode == 0, r.stdout + r.stderr
            wave, sr = torchaudio.load(path)
            wave = wave.mean(0, keepdim=True)  # 1 or 2 channels as the release; more are averaged too
            worst = 0.0
            for i, (start, stop) in enumerate(res["ranges"]):
                mono = np.load(os.path.join(out, f"audio_{i}.npy")).astype(np.float32)
                raw = os.path.join(tmp, "x.f32")
                mono.tofile(raw)
                ours_path = os.path.join(tmp, "ours.npy")
                subprocess.run([AUDIO_PROBE, raw, str(res["sample_rate"]), ours_path], check=True,
                               capture_output=True)
                ours = np.load(ours_path)
                ref = release_clip_tensor(wave, sr, start, stop).numpy()
                worst = max(worst, float(np.abs(ours - ref).max()))
            lossless = path.endswith((".wav", ".flac"))
            ok = worst <= 1e-3 or not lossless
            print(f"{'ok  ' if ok else 'FAIL'} {os.path.relpath(path, SRC) if path.startswith(SRC) else os.path.basename(path)}: {len(res['ranges'])} clips at "
                  f"{res['sample_rate']} Hz, max |diff| {worst:.3g} dB" + ("" if lossless else " (lossy codec: reported)"))
            if not ok:
                failures.append(path)
    if failures:
        print(f"{len(failures)} file(s) over 1e-3 dB")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
