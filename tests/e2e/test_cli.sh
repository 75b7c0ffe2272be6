#!/usr/bin/env bash
# lssd-infer / lssd-read argument handling: resolved config, exit code 2 on config errors.
set -u
B=${LSSD_BUILD_DIR:-build}
infer="$B/lssd-infer"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

out=$("$infer" --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR "$tmp/x" OUTPUT_DIR "$tmp/y" TEST.BATCH_SIZE 4 -v 2>"$tmp/err")
rc=$?
check "-v prints the resolved config with BATCH_SIZE 4" '[[ "$out" == *"BATCH_SIZE: 4  #"* ]]'
check "-v shows the config file's encoder path, made absolute" '[[ "$out" == *"VIDEO_ENCODER_FILE: $PWD/models/B3/video.pt"* ]]'
check "missing input dir is a usage error (exit 2), named" '[[ $rc == 2 && "$(cat $tmp/err)" == *"$tmp/x"* ]]'
check "a usage error creates no OUTPUT_DIR" '[[ ! -e "$tmp/y" ]]'
mkdir -p "$tmp/empty"
"$infer" --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR "$tmp/empty" OUTPUT_DIR "$tmp/y" TEST.BATCH_SIZE 4 -q 2>/dev/null
rc=$?
check "a run with nothing to embed: exit 0, writes OUTPUT_DIR/config.yaml" \
  '[[ $rc == 0 && -f "$tmp/y/config.yaml" ]] && grep -q "BATCH_SIZE: 4" "$tmp/y/config.yaml"'

# A list value is one token, with or without spaces (CLI11 once split "[224,224]" into two).
out=$("$infer" --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR "$tmp/empty" OUTPUT_DIR "$tmp/l" VIDEO.CROP_SIZE "[200,210]" \
  AUDIO.CROP_SIZE "[96, 280]" -v 2>/dev/null)
check "list overrides: VIDEO.CROP_SIZE [200,210] and AUDIO.CROP_SIZE [96, 280]" \
  '[[ "$out" == *"CROP_SIZE: [200, 210]  #"* && "$out" == *"CROP_SIZE: [96, 280]  #"* ]]'

err=$("$infer" --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR x OUTPUT_DIR "$tmp/z" TEST.BATCH_SZE 4 2>&1)
rc=$?
check "misspelt key: exit 2" '[[ $rc == 2 ]]'
check "misspelt key: names TEST.BATCH_SIZE" '[[ "$err" == *"TEST.BATCH_SIZE"* ]]'
check "config error writes nothing" '[[ ! -e "$tmp/z" ]]'

err=$("$infer" --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR x OUTPUT_DIR "$tmp/z" TEST.BATCH_SIZE four 2>&1)
rc=$?
check "wrong type: exit 2 naming the key" '[[ $rc == 2 && "$err" == *"TEST.BATCH_SIZE"* ]]'

err=$("$infer" --cfg configs/B3.yaml TEST.BATCH_SIZE 2>&1)
check "odd token count: exit 2" '[[ $? == 2 && "$err" == *"odd number"* ]]'
err=$("$infer" --cfg /nonexistent.yaml 2>&1)
check "missing config file: exit 2" '[[ $? == 2 && "$err" == *"/nonexistent.yaml"* ]]'
"$infer" --bogus-flag >/dev/null 2>&1
check "unknown flag: exit 2" '[[ $? == 2 ]]'
check "--help exits 0" '"$infer" --help >/dev/null'
check "--version prints the version" '[[ "$("$infer" --version)" == "lssd-infer "* ]]'
check "lssd-read --version" '[[ "$("$B/lssd-read" --version)" == "lssd-read "* ]]'
check "lssd-read -V" '[[ "$("$B/lssd-read" -V)" == "lssd-read "* ]]'
check "lssd-read --help exits 0" '"$B/lssd-read" --help >/dev/null'
for m in B3 B5 C2; do
  check "configs/$m.yaml loads" '"$infer" --cfg configs/$m.yaml DATA.PATH_TO_DATA_DIR "$tmp/empty" OUTPUT_DIR "$tmp/c$m" -q 2>/dev/null; [[ $? == 0 ]]'
done
# A video tower whose metadata is valid but whose module is not (it loads in the background while
# decoding has started): a fatal error naming the file, exit 1, no hang.
py=${LSSD_PYTHON:-/usr/bin/python3}
tiny=$("$py" -c "import sys; sys.path.insert(0, 'tests/e2e'); from e2e_common import tiny_model_dir; print(tiny_model_dir())")
"$py" - "$tiny/video.pt" "$tmp/broken_video.pt" <<'PY'
import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
with zipfile.ZipFile(sys.argv[2], "w") as z:
    for n in src.namelist():
        if n.endswith("extra/lssd_meta.json") or n.endswith("/version"):
            z.writestr(n, src.read(n))
PY
err=$(timeout 300 "$infer" --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR sample_data OUTPUT_DIR "$tmp/bm" RUNTIME.DEVICE cpu \
      MODEL.VIDEO_ENCODER_FILE "$tmp/broken_video.pt" MODEL.AUDIO_ENCODER_FILE "$tiny/audio.pt" 2>&1)
rc=$?
check "unloadable video tower: exit 1 naming the file and the cause" \
  '[[ $rc == 1 && "$err" == *"$tmp/broken_video.pt"* && "$err" == *"cannot load the TorchScript module"* ]]'

if [[ $fail == 0 ]]; then echo "all CLI checks passed"; fi
exit $fail
