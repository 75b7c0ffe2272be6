#include "lssd/claims.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "lssd/error.h"
#include "pipeline/claim_work.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using namespace lssd;

namespace {

fs::path temp_dir(const std::string& name) { return lssd::test::temp_dir("claims", name); }

WriterIdentity writer(const std::string& id, const std::string& host = "", int64_t pid = 0) {
  WriterIdentity w = this_writer(id);
  if (!host.empty()) w.host = host;
  if (pid) w.pid = pid;
  return w;
}

// A pid that is not alive on this host (nothing runs with it).
int64_t dead_pid() {
  for (int64_t p = 4000000; p > 1000; p -= 997)
    if (::kill(static_cast<pid_t>(p), 0) != 0 && errno == ESRCH) return p;
  return 0;
}

// Sets a file's mtime `age_s` seconds into the past.
void age(const fs::path& p, double age_s) {
  fs::last_write_time(p, fs::last_write_time(p) - std::chrono::milliseconds(static_cast<int64_t>(age_s * 1000)));
}

}  // namespace

TEST(Claims, WriterIds) {
  EXPECT_TRUE(is_valid_writer_id("node-1_a"));
  EXPECT_FALSE(is_valid_writer_id("a.b"));
  EXPECT_FALSE(is_valid_writer_id(""));
  EXPECT_FALSE(is_valid_writer_id(std::string(65, 'a')));
  EXPECT_THROW(this_writer("bad id"), ConfigError);
  const WriterIdentity w = this_writer("");
  EXPECT_TRUE(is_valid_writer_id(w.id)) << w.id;
  EXPECT_EQ(w.pid, static_cast<int64_t>(::getpid()));
  std::string state;
  const WriterIdentity back = parse_writer_entry(writer_entry_json(w, "done"), &state);
  EXPECT_EQ(back.id, w.id);
  EXPECT_EQ(back.host, w.host);
  EXPECT_EQ(back.pid, w.pid);
  EXPECT_EQ(state, "done");
}

TEST(Claims, OwnerGoneByPidOnThisHostOrByTheServersClock) {
  const WriterIdentity me = this_writer("me");
  WriterIdentity other = me;
  other.pid = dead_pid();
  ASSERT_NE(other.pid, 0);
  const int64_t now = 1000000000000;
  EXPECT_TRUE(owner_gone(other, now, now, 600, me.host));  // same host, pid dead: at once
  other.pid = me.pid;
  EXPECT_FALSE(owner_gone(other, now - 10'000'000'000LL, now, 600, me.host));  // alive, touched 10 s ago
  EXPECT_TRUE(owner_gone(other, now - 700'000'000'000LL, now, 600, me.host));  // untouched for 700 s
  other.host = "another-node";
  other.pid = dead_pid();  // not local: its pid says nothing here
  EXPECT_FALSE(owner_gone(other, now - 10'000'000'000LL, now, 600, me.host));
  EXPECT_TRUE(owner_gone(other, now - 601'000'000'000LL, now, 600, me.host));
}

TEST(Claims, CreateExclusiveOnlyOnce) {
  const fs::path d = temp_dir("excl");
  const std::string p = (d / "x").string();
  EXPECT_TRUE(create_exclusive(p, "first", "w1"));
  EXPECT_FALSE(create_exclusive(p, "second", "w2"));
  std::ifstream in(p);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "first");
  for (auto& e : fs::directory_iterator(d)) EXPECT_EQ(e.path().filename(), "x");  // no temporary left
}

TEST(Claims, ConcurrentClaimsOfOneChunkHaveOneWinner) {
  const fs::path d = temp_dir("race");
  std::vector<std::unique_ptr<WriterRegistry>> regs;
  std::vector<std::unique_ptr<ClaimBoard>> boards;
  for (int i = 0; i < 8; ++i) {
    regs.push_back(std::make_unique<WriterRegistry>(d.string(), writer("w" + std::to_string(i)), 600));
    regs.back()->enter();
    boards.push_back(std::make_unique<ClaimBoard>(regs.back().get()));
  }
  for (int round = 0; round < 20; ++round) {
    std::vector<ClaimBoard::Outcome> got(boards.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < boards.size(); ++i)
      threads.emplace_back([&, i] { got[i] = boards[i]->try_claim("chunk" + std::to_string(round)); });
    for (auto& t : threads) t.join();
    EXPECT_EQ(std::count(got.begin(), got.end(), ClaimBoard::Outcome::Claimed), 1) << "round " << round;
    EXPECT_EQ(std::count(got.begin(), got.end(), ClaimBoard::Outcome::Held), 7) << "round " << round;
  }
}

TEST(Claims, StaleClaimsAreTakenOverAndDoneOnesKept) {
  const fs::path d = temp_dir("stale");
  // Writer A on "another node" (its pid means nothing here), writer B on this host.
  WriterRegistry a(d.string(), writer("wa", "another-node", 1), 2.0);
  WriterRegistry b(d.string(), writer("wb"), 2.0);
  a.enter();
  b.enter();
  ClaimBoard board_a(&a), board_b(&b);
  EXPECT_EQ(board_a.try_claim("c1"), ClaimBoard::Outcome::Claimed);
  EXPECT_EQ(board_b.try_claim("c1"), ClaimBoard::Outcome::Held);  // A renews: alive
  EXPECT_FALSE(b.gone("wa"));
  // A stops renewing (killed): after the timeout by the file system's clock its claim is stale.
  age(d / "claims" / "c1.g0", 3.0);
  age(d / "writers" / "wa.json", 3.0);
  EXPECT_TRUE(b.gone("wa"));
  std::string previous;
  EXPECT_EQ(board_b.try_claim("c1", &previous), ClaimBoard::Outcome::TakenOver);
  EXPECT_EQ(previous, "wa");
  // A comes back and renews: it learns that c1 is not its own any more.
  EXPECT_EQ(board_a.renew(), std::vector<std::string>{"c1"});
  board_b.mark_done("c1");
  EXPECT_EQ(board_a.try_claim("c1"), ClaimBoard::Outcome::Done);  // done after A entered: nothing left
  // A writer that enters after the chunk was done may claim it again (a rerun: what is left in
  // it is for the resume check to say).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  WriterRegistry c(d.string(), writer("wc"), 2.0);
  c.enter();
  ClaimBoard board_c(&c);
  age(d / "claims" / "c1.g1", 1.0);
  EXPECT_EQ(board_c.try_claim("c1"), ClaimBoard::Outcome::TakenOver);
}

TEST(Claims, AClaimOfADeadLocalProcessIsStaleAtOnce) {
  const fs::path d = temp_dir("deadpid");
  WriterRegistry dead(d.string(), writer("wdead", "", dead_pid()), 600);
  dead.enter();
  ClaimBoard board_dead(&dead);
  EXPECT_EQ(board_dead.try_claim("c"), ClaimBoard::Outcome::Claimed);
  WriterRegistry me(d.string(), writer("wme"), 600);
  me.enter();
  ClaimBoard board(&me);
  EXPECT_TRUE(me.gone("wdead"));
  EXPECT_EQ(board.try_claim("c"), ClaimBoard::Outcome::TakenOver);
  EXPECT_EQ(me.remove_gone(), 1u);
  EXPECT_FALSE(fs::exists(d / "writers" / "wdead.json"));
}

TEST(Claims, ALiveWriterIdCannotBeUsedTwice) {
  const fs::path d = temp_dir("twice");
  WriterRegistry a(d.string(), writer("same"), 600);
  a.enter();
  WriterRegistry b(d.string(), writer("same"), 600);
  EXPECT_THROW(b.enter(), Error);
  a.leave();
  EXPECT_NO_THROW(b.enter());
}

TEST(ClaimWork, ChunksAreTheSameForTheSameInputsAndDifferOtherwise) {
  const std::vector<std::string> keys{"audio\ta", "audio\tb", "audio\tc", "audio\td", "audio\te"};
  const auto c1 = make_chunks(keys, 2, {0, 2, 3, 4});
  ASSERT_EQ(c1.size(), 3u);
  EXPECT_EQ(c1[0].todo_begin, 0u);
  EXPECT_EQ(c1[0].todo_end, 1u);  // b is done already
  EXPECT_EQ(c1[1].todo_end, 3u);
  EXPECT_EQ(c1[2].todo_end, 4u);
  EXPECT_EQ(make_chunks(keys, 2, {})[1].name, c1[1].name);
  EXPECT_NE(make_chunks(keys, 3, {})[0].name, c1[0].name);
  auto other = keys;
  other[1] = "audio\tb2";
  EXPECT_NE(make_chunks(other, 2, {})[0].name, c1[0].name);
  EXPECT_EQ(make_chunks(other, 2, {})[1].name, c1[1].name);
}

TEST(ClaimWork, TwoWritersShareTheChunksAndEachEntryRunsOnce) {
  const fs::path d = temp_dir("work");
  const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (int i = 0; i < 23; ++i) k.push_back("audio\t" + std::to_string(i));
    return k;
  }();
  std::vector<size_t> todo(keys.size());
  for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  WriterRegistry ra(d.string(), writer("wa"), 600), rb(d.string(), writer("wb"), 600);
  ra.enter();
  rb.enter();
  ClaimBoard ba(&ra), bb(&rb);
  std::mutex mu;
  std::multiset<size_t> done;
  std::set<size_t> elsewhere_a, elsewhere_b;
  auto run = [&](ClaimBoard* board, size_t first, std::set<size_t>* elsewhere) {
    ClaimWork::Hooks hooks;
    hooks.done_elsewhere = [&, elsewhere](size_t e) { elsewhere->insert(e); };
    ClaimWork w(make_chunks(keys, 4, todo), board, first, 0.05, hooks);
    while (auto e = w.next()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        done.insert(*e);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      w.recorded(*e);
    }
    EXPECT_EQ(w.started() + w.elsewhere(), keys.size());
  };
  std::thread ta(run, &ba, 0, &elsewhere_a), tb(run, &bb, 3, &elsewhere_b);
  ta.join();
  tb.join();
  EXPECT_EQ(done.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(done.count(i), 1u) << i;
}

TEST(ClaimWork, EveryChunkIsTriedWhateverItsPlace) {
  const fs::path d = temp_dir("every");
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) keys.push_back("audio\t" + std::to_string(i));
  std::vector<size_t> todo(keys.size());
  for (size_t i = 0; i < todo.size(); ++i) todo[i] = i;
  const auto chunks = make_chunks(keys, 2, todo);  // 6 chunks
  WriterRegistry ra(d.string(), writer("wa"), 600), rb(d.string(), writer("wb"), 600);
  ra.enter();
  rb.enter();
  ClaimBoard ba(&ra), bb(&rb);
  for (size_t c : {0, 1, 2, 3, 5}) {  // another writer did all chunks but the fifth
    ASSERT_EQ(bb.try_claim(chunks[c].name), ClaimBoard::Outcome::Claimed);
    bb.mark_done(chunks[c].name);
  }
  ClaimWork w(chunks, &ba, 0, 0.05, {});
  std::vector<size_t> got;
  while (auto e = w.next()) {
    got.push_back(*e);
    w.recorded(*e);
  }
  EXPECT_EQ(got, (std::vector<size_t>{8, 9}));
  EXPECT_EQ(w.elsewhere(), 10u);
}
