#pragma once
// The command-line client (put, get, ls, share, rm): registered on the binary's CLI11 app, run
// after parsing. It talks to a server over HTTP only and shares no code with the server.
#include <CLI/CLI.hpp>

#include <memory>
#include <optional>

namespace sharebox::client {

class commands {
 public:
  virtual ~commands() = default;
  // The exit status of the client subcommand chosen on the command line, or nullopt when the
  // user chose another subcommand.
  virtual std::optional<int> run() = 0;
};

// Adds the client subcommands to `app`; the returned object holds their parsed options and must
// outlive parsing.
std::unique_ptr<commands> add_commands(CLI::App& app);

}  // namespace sharebox::client
