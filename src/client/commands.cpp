#include "sharebox/client/commands.hpp"

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <map>

#include "sharebox/client/error.hpp"
#include "sharebox/client/operations.hpp"

namespace sharebox::client {

namespace {

// Ctrl-C during a progress bar: end its line so the shell prompt starts on a fresh one, then die
// of the signal as usual (resume state is already on disk).
void end_line_and_die(int sig) {
  const char newline = '\n';
  [[maybe_unused]] const auto ignored = ::write(STDERR_FILENO, &newline, 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

constexpr const char* put_footer =
    "Prints each file's id alone on stdout. An interrupted upload (Ctrl-C, kill -9, a lost\n"
    "connection) resumes when the same command runs again: its state is kept under\n"
    "$XDG_STATE_HOME/sharebox/uploads/ (default ~/.local/state/sharebox/uploads/) until the\n"
    "upload completes.";

constexpr const char* get_footer =
    "Downloads into PATH.part and resumes an existing PATH.part (Range + If-Range). When done,\n"
    "the file's SHA-256 is checked against the server's: on a match it prints OK and renames\n"
    "PATH.part to PATH; otherwise it prints BAD, keeps the bytes as PATH.bad and exits with\n"
    "status 1.";

CLI::Validator non_empty() {
  return CLI::Validator(
      [](const std::string& s) { return s.empty() ? std::string("must not be empty") : ""; }, "",
      "non_empty");
}

class client_commands final : public commands {
 public:
  explicit client_commands(CLI::App& app) {
    put_ = app.add_subcommand("put", "Upload files (resumable, parallel, verified)");
    add_common(put_);
    put_->add_option("files", put_opts_.files, "Files to upload")->required();
    put_->add_option("--parallel", put_opts_.parallel, "Chunks sent at once, one connection each")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    put_->add_option("--chunk-size", put_opts_.chunk_size,
                     "Chunk size wish, e.g. 8M (the server clamps it; default: the server's)")
        ->transform(CLI::AsSizeValue(false));
    put_->add_option("--name", put_opts_.name, "Name on the server (default: the file's name)");
    put_->add_option("--replace", put_opts_.replace,
                     "Replace the content of this file id instead of creating a file");
    put_->add_option("--limit-rate", put_opts_.limit_rate,
                     "Upload at most this many bytes per second, e.g. 500K, 50M");
    put_->add_flag("--no-progress", put_opts_.no_progress, "No progress bar, only a summary line");
    put_->footer(put_footer);

    get_ = app.add_subcommand("get", "Download a file and verify its SHA-256");
    add_common(get_);
    get_->add_option("id", get_opts_.id, "File id")->required()->check(non_empty());
    get_->add_option("-o,--output", get_opts_.output,
                     "Where to write it (a directory or a path; default: its name, here)");
    get_->add_flag("--no-progress", get_opts_.no_progress, "No progress bar, only a summary line");
    get_->footer(get_footer);

    ls_ = app.add_subcommand("ls", "List your files and those shared with you");
    add_common(ls_);
    ls_->add_flag("--json", ls_json_, "Print the file objects as JSON");

    share_ = app.add_subcommand("share", "Share a file with another user (read-only by default)");
    add_common(share_);
    share_->add_option("id", share_id_, "File id")->required()->check(non_empty());
    share_->add_option("user", share_user_, "User to share with")->required()->check(non_empty());
    share_->add_flag("--write", share_write_, "Let them replace the content too");

    rm_ = app.add_subcommand("rm", "Delete a file");
    add_common(rm_);
    rm_->add_option("id", rm_id_, "File id")->required()->check(non_empty());
  }

  std::optional<int> run() override {
    if (!*put_ && !*get_ && !*ls_ && !*share_ && !*rm_) return std::nullopt;
    // A closed socket or stdout pipe must surface as an error, not kill us silently.
    std::signal(SIGPIPE, SIG_IGN);
    if (::isatty(STDERR_FILENO) == 1) {
      std::signal(SIGINT, end_line_and_die);
      std::signal(SIGTERM, end_line_and_die);
    }
    try {
      if (*put_) return run_put(common_[put_], put_opts_);
      if (*get_) return run_get(common_[get_], get_opts_);
      if (*ls_) return run_ls(common_[ls_], ls_json_);
      if (*share_) return run_share(common_[share_], share_id_, share_user_, share_write_);
      return run_rm(common_[rm_], rm_id_);
    } catch (const client_error& e) {
      std::cerr << "sharebox: " << e.what() << "\n";
      return e.exit_status();
    } catch (const std::exception& e) {
      std::cerr << "sharebox: " << e.what() << "\n";
      return 1;
    }
  }

 private:
  // Each subcommand binds its own copy: CLI11 applies environment defaults to every
  // subcommand's options, so a shared variable would lose the chosen one's --url.
  void add_common(CLI::App* cmd) {
    auto& common = common_[cmd];
    cmd->add_option("--url", common.url, "Server URL")
        ->envname("SHAREBOX_URL")
        ->capture_default_str();
    cmd->add_option("--key", common.key, "API key, sent as 'Authorization: Bearer KEY'")
        ->envname("SHAREBOX_API_KEY");
    cmd->add_option("--cacert", common.cacert,
                    "For https:// URLs: also trust this CA certificate (PEM), e.g. a server's "
                    "self-signed one (the system's CAs and SSL_CERT_FILE are trusted anyway)")
        ->envname("SHAREBOX_CACERT");
  }

  std::map<const CLI::App*, common_options> common_;
  put_options put_opts_;
  get_options get_opts_;
  bool ls_json_ = false;
  std::string share_id_;
  std::string share_user_;
  bool share_write_ = false;
  std::string rm_id_;
  CLI::App* put_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* ls_ = nullptr;
  CLI::App* share_ = nullptr;
  CLI::App* rm_ = nullptr;
};

}  // namespace

std::unique_ptr<commands> add_commands(CLI::App& app) {
  return std::make_unique<client_commands>(app);
}

}  // namespace sharebox::client
