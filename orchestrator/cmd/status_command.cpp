// `switchyard status`: the services and backends as the kernel holds them right now, read back
// from the nftables tables in this network namespace (not from the agent), as a table, like
// `cilium service list`.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "dataplane/iptables/nftables_reader.h"
#include "orchestrator/cmd/commands.h"

namespace switchyard::cmd {

namespace {

struct StatusOptions {
  std::string mode = "nftables";
  std::string output = "table";
};

int run_status(const StatusOptions& o) {
  if (o.mode == "ebpf") {
    std::cerr << "error: --mode ebpf: reading the programmed services back from the BPF maps is not done yet (issue #8)\n";
    return 3;
  }
  std::vector<dataplane::nft::ProgrammedFrontend> all;
  for (auto family : {dataplane::nft::IpFamily::IPv4, dataplane::nft::IpFamily::IPv6}) {
    auto read = dataplane::nft::read_programmed_frontends(family);
    if (!read) {
      std::cerr << "error: " << read.error().message << "\n";
      return 1;
    }
    all.insert(all.end(), read->begin(), read->end());
  }
  if (o.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : all)
      out.push_back({{"service", f.service}, {"address", f.address}, {"protocol", f.protocol}, {"port", f.port},
                     {"nodePort", f.address.empty()}, {"noEndpoints", f.no_endpoints}, {"chain", f.chain}, {"table", f.table}, {"backends", f.backends}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) {
    std::cout << "no services programmed (no switchyard nftables tables in this network namespace)\n";
    return 0;
  }
  auto frontend = [](const dataplane::nft::ProgrammedFrontend& f) {
    if (f.address.empty()) return fmt::format("*:{}/{} (node port)", f.port, f.protocol);
    return f.address.find(':') == std::string::npos ? fmt::format("{}:{}/{}", f.address, f.port, f.protocol)
                                                    : fmt::format("[{}]:{}/{}", f.address, f.port, f.protocol);
  };
  std::size_t w_service = 7, w_frontend = 8;
  for (const auto& f : all) {
    w_service = std::max(w_service, f.service.size());
    w_frontend = std::max(w_frontend, frontend(f).size());
  }
  std::cout << fmt::format("{:<{}}  {:<{}}  {}\n", "SERVICE", w_service, "FRONTEND", w_frontend, "BACKENDS");
  for (const auto& f : all)
    std::cout << fmt::format("{:<{}}  {:<{}}  {}\n", f.service.empty() ? "-" : f.service, w_service, frontend(f), w_frontend,
                             f.no_endpoints       ? std::string(f.chain.empty() ? "(no endpoints for its traffic policy: dropped)"
                                                                                  : "(no endpoints: rejected)")
                             : f.backends.empty() ? std::string("(none)")
                                                  : fmt::format("{}", fmt::join(f.backends, ", ")));
  return 0;
}

}  // namespace

void register_status(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* sub = app.add_subcommand("status", "Show the services and backends programmed in the kernel right now (this network namespace)");
  sub->add_option("--mode", o->mode, "dataplane to read: nftables or ebpf")->check(CLI::IsMember({"ebpf", "nftables"}))->capture_default_str();
  sub->add_option("-o,--output", o->output, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  sub->callback([&run, o] { run = [o] { return run_status(*o); }; });
}

}  // namespace switchyard::cmd
