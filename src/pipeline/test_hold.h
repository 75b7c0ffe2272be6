// Test hooks. LSSD_TEST_HOLD=<stage> (towers | decode | encode) a run stops at that stage
// once, says so on stderr, and waits there until a stop is requested; with <stage>:stuck it goes
// on waiting after that too (so that a second signal finds it busy); with <stage>@N it lets N-1
// calls pass and holds from the N-th call on, every caller (so that a run has done some work,
// e.g. recorded some inputs, and then does nothing more but renew its claims). At most 10
// minutes either way. Lets tests interrupt a run in a known stage without relying on timing.
#pragma once
#include <atomic>

namespace lssd {

// Returns at once unless LSSD_TEST_HOLD names `stage` (then see above).
void test_hold(const char* stage, const std::atomic<bool>& stop);

// LSSD_TEST_CPU_REPLICAS=N (1..16): a CPU run gets N encoder replicas (pseudo-devices cpu#0..),
// which share the decode workers as CUDA replicas do, so that the scheduling of several devices
// and its per-device summary are tested without GPUs (tests/e2e/test_replicas.py). Otherwise 1.
int test_cpu_replicas();

// LSSD_TEST_BARRIER=DIR:N: the run enters DIR (a file named by its pid) and waits until N
// processes have (at most 2 minutes), so that a test's concurrent processes start their work
// together however long each took to start (tests/e2e/test_claims.py). Otherwise returns at once.
void test_barrier();

}  // namespace lssd
