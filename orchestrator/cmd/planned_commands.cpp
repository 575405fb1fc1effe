// Subcommands whose interface is fixed by the open issues but whose implementation has not
// landed yet. They accept their documented flags so that `--help` tells the truth about the
// interface, and say plainly that they are not available instead of pretending to run.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "orchestrator/cmd/commands.h"

namespace switchyard::cmd {

namespace {

int not_available(std::string_view name, std::string_view issue) {
  std::cerr << fmt::format("switchyard {}: not available in this build yet (tracked in issue {}).\n", name, issue);
  return 3;
}

struct Unused {
  std::string s1, s2, s3, s4, s5, s6;
  bool b1 = false;
};

}  // namespace

void register_up(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<Unused>();
  CLI::App* sub = app.add_subcommand("up", "Run API server, store, controllers, agent and DNS in one process on this host");
  sub->add_option("--data-dir", o->s1, "directory for the store, certificates and kubeconfig")->required();
  sub->add_option("--mode", o->s2, "dataplane: ebpf or nftables")->check(CLI::IsMember({"ebpf", "nftables"}));
  sub->callback([&run] { run = [] { return not_available("up", "#8"); }; });
}

}  // namespace switchyard::cmd
