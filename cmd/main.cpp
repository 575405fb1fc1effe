#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/join_command.h"

int main(int argc, char** argv) {
  CLI::App app{"switchyard: Kubernetes service networking (eBPF and nftables dataplanes, cluster DNS, API server)"};
  app.require_subcommand(1);
  std::function<int()> run;
  switchyard::cmd::register_validate(app, run);
  switchyard::cmd::register_dns(app, run);
  switchyard::cmd::register_apiserver(app, run);
  switchyard::cmd::register_agent(app, run);
  switchyard::cmd::register_up(app, run);
  switchyard::cmd::register_join(app, run);
  switchyard::cmd::register_status(app, run);
  switchyard::cmd::register_images(app, run);
  switchyard::cmd::register_kubelet(app, run);
  switchyard::cmd::register_scheduler(app, run);
  switchyard::cmd::register_controller_manager(app, run);
  CLI11_PARSE(app, argc, argv);
  return run ? run() : 0;
}
