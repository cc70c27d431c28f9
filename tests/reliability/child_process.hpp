#pragma once
// Runs a test body in a forked child with an alarm, for cases that hang on
// a broken build (a blocking open of a FIFO, a thread pool that never
// returns): the parent sees a timeout instead of hanging the suite.

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <string>

namespace scvae::testing {

struct ChildOutcome {
  bool exited = false;  ///< The child returned (code is its exit status).
  int code = -1;
  bool timed_out = false;  ///< Killed by the alarm: it hung.
  int signal = 0;          ///< Another signal that ended it.

  std::string describe() const {
    if (timed_out) return "the child hung (killed by its alarm)";
    if (signal != 0) return "the child died of signal " + std::to_string(signal);
    return "the child exited with " + std::to_string(code);
  }
};

/// Forks; the child arms alarm(seconds), runs body() and _exit()s with its
/// result (an escaping exception: 99). The parent waits and reports.
template <typename Body>
ChildOutcome run_in_child(Body&& body, unsigned seconds = 10) {
  ChildOutcome outcome;
  const pid_t pid = ::fork();
  if (pid < 0) return outcome;
  if (pid == 0) {
    ::alarm(seconds);
    int code = 99;
    try {
      code = body();
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  pid_t waited;
  do {
    waited = ::waitpid(pid, &status, 0);
  } while (waited < 0 && errno == EINTR);
  if (waited < 0) return outcome;
  if (WIFEXITED(status)) {
    outcome.exited = true;
    outcome.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    outcome.signal = WTERMSIG(status);
    outcome.timed_out = outcome.signal == SIGALRM;
  }
  return outcome;
}

}  // namespace scvae::testing
