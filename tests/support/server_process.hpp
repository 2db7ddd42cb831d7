#pragma once
// Runs the real `sharebox serve` binary as a child process on 127.0.0.1:0 in a fresh temporary
// data directory, and the `sharebox user add` CLI against the same directory.
//
// Children run in their own process group (kill9() kills the group) with SHAREBOX_* and
// API_KEY_MAPPINGS removed from the environment, die with the test process (PR_SET_PDEATHSIG;
// start them from the test's main thread), and inherit none of the test's sockets. The temp
// directory is removed by the destructor unless SHAREBOX_TEST_KEEP_DATA is set; if the test
// failed, the server's stdout and stderr are printed.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sharebox::test {

// How a child process ended.
struct process_exit {
  bool exited = false;     // normal exit; `code` is valid
  int code = -1;           // exit status when `exited`
  int signal = 0;          // terminating signal, 0 if none
  bool timed_out = false;  // did not exit in time (the process was then killed)
  bool clean() const { return exited && code == 0; }
  std::string describe() const;
};

struct cli_result {
  process_exit exit;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `program` (program[0] is a path) to completion with stdin from /dev/null, collecting its
// stdout and stderr. The child gets its own process group (all of it is killed at the timeout),
// dies with the test process, and inherits none of the test's descriptors. `env` is the child's
// environment; nullopt passes ours on.
cli_result run_program(const std::vector<std::string>& program, std::chrono::milliseconds timeout,
                       std::optional<std::vector<std::string>> env = std::nullopt);

// In a forked child: only async-signal-safe calls, then execve(argv, envp) with stdin, stdout and
// stderr from the given descriptors, in its own process group, dying with its parent `parent`,
// with every other descriptor closed.
[[noreturn]] void exec_child(char* const* argv, char* const* envp, int in_fd, int out_fd,
                             int err_fd, pid_t parent);

class server_process {
 public:
  static constexpr std::chrono::seconds startup_timeout{20};

  // Starts `SHAREBOX_BINARY serve --listen 127.0.0.1:0 --data-dir DIR <extra_args...>` and waits
  // until it prints its listening line. Throws std::runtime_error (with the logs) on failure.
  explicit server_process(std::vector<std::string> extra_args = {});
  // The same on `data_dir` (created if missing), e.g. a small filesystem the test mounted; the
  // caller owns it: the destructor leaves it alone.
  server_process(std::vector<std::string> extra_args, std::filesystem::path data_dir);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  std::uint16_t port() const { return port_; }
  // Key printed on the first start (empty database); kept across restart().
  const std::string& admin_key() const { return admin_key_; }
  // True if the most recent start printed an initial admin key (i.e. found an empty database).
  bool printed_admin_key_on_last_start() const { return printed_key_on_last_start_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }
  bool running();

  void kill9();
  void signal(int sig);
  // Waits for the child to exit (reaping it). On timeout the child is killed with SIGKILL and
  // the result has timed_out set.
  process_exit wait_exit(std::chrono::milliseconds timeout);
  // SIGTERM + wait_exit.
  process_exit terminate(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Starts the server again on the same data directory (stopping it first with SIGTERM if it is
  // still running). The port may change.
  void restart();
  // Last exit status, if the child has been reaped.
  const std::optional<process_exit>& last_exit() const { return last_exit_; }

  // VmHWM / VmRSS of the running server in KiB; -1 if unavailable.
  long peak_rss_kib() const;
  long rss_kib() const;

  // Runs `SHAREBOX_BINARY user add NAME --data-dir DIR`; returns its stdout trimmed (the key).
  // Throws std::runtime_error if the command fails.
  std::string add_user(const std::string& name);
  // Runs `SHAREBOX_BINARY args...` to completion.
  cli_result run_cli(const std::vector<std::string>& args,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

  // Everything the server printed so far (stdout lines and the stderr log).
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  struct output_state;

  void start();
  void stop_reader();
  void record_exit(int status);
  std::string diagnostics() const;
  static std::string stdout_text_of(output_state& state);

  std::vector<std::string> extra_args_;
  std::filesystem::path root_;  // mkdtemp directory: data/ and server.log
  std::filesystem::path data_dir_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  bool reaped_ = true;
  std::optional<process_exit> last_exit_;
  std::uint16_t port_ = 0;
  std::string admin_key_;
  bool printed_key_on_last_start_ = false;
  std::shared_ptr<output_state> output_;
  std::string previous_stdout_;  // output of earlier runs (before restart())
  std::shared_ptr<std::atomic<bool>> reader_stop_;
  std::thread reader_;
};

std::string trim(std::string_view s);

// The sharebox executable the tests run: $SHAREBOX_TEST_SERVER if set (scripts/test-sanitizers
// points the gcc-built integration tests at a sanitized server this way), else the one built
// with the tests.
const std::string& sharebox_binary();

// Whether that executable was built with AddressSanitizer or ThreadSanitizer. Servers then stop
// with SIGTERM, so that LeakSanitizer checks them at exit, and bounds on a server's RSS are not
// checked (ASan's quarantine keeps freed memory, up to 256 MiB, and TSan's shadow multiplies it;
// the gcc build's run checks them).
bool sanitized_server();

// Fails the current test if `output` (a child's stderr) holds a sanitizer report. The server
// checks its log when it is destroyed, run_program() the stderr it collects.
void expect_no_sanitizer_report(std::string_view output, std::string_view who);

}  // namespace sharebox::test
