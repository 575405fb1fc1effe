// `switchyard status`: the services and backends as the kernel holds them right now, read back
// (not asked of the agent) from the nftables tables in this network namespace or from the eBPF
// maps pinned under --bpf-root/<node>, as a table, like `cilium service list`.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "dataplane/ebpf/ebpf_reader.h"
#include "dataplane/iptables/nftables_reader.h"
#include "cmd/commands.h"

namespace switchyard::cmd {

namespace {

struct StatusOptions {
  std::string mode = "nftables";
  std::string output = "table";
  std::string bpf_root = "/sys/fs/bpf/switchyard";
  std::string node_name;  // eBPF: default, the only node pinned under bpf_root
};

// One line of the table, whichever dataplane it came from.
struct Row {
  std::string service, frontend, backends;
};

std::string address_port(const std::string& address, std::uint16_t port, const std::string& protocol) {
  return address.find(':') == std::string::npos ? fmt::format("{}:{}/{}", address, port, protocol)
                                                : fmt::format("[{}]:{}/{}", address, port, protocol);
}

void print_table(const std::vector<Row>& rows) {
  std::size_t w_service = 7, w_frontend = 8;
  for (const auto& r : rows) {
    w_service = std::max(w_service, r.service.size());
    w_frontend = std::max(w_frontend, r.frontend.size());
  }
  std::cout << fmt::format("{:<{}}  {:<{}}  {}\n", "SERVICE", w_service, "FRONTEND", w_frontend, "BACKENDS");
  for (const auto& r : rows) std::cout << fmt::format("{:<{}}  {:<{}}  {}\n", r.service, w_service, r.frontend, w_frontend, r.backends);
}

int status_nftables(const StatusOptions& o) {
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
      out.push_back({{"service", f.service},
                     {"address", f.address},
                     {"protocol", f.protocol},
                     {"port", f.port},
                     {"nodePort", f.address.empty()},
                     {"noEndpoints", f.no_endpoints},
                     {"chain", f.chain},
                     {"table", f.table},
                     {"backends", f.backends}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (all.empty()) {
    std::cout << "no services programmed (no switchyard nftables tables in this network namespace)\n";
    return 0;
  }
  std::vector<Row> rows;
  for (const auto& f : all)
    rows.push_back(
        {f.service.empty() ? "-" : f.service,
         f.address.empty() ? fmt::format("*:{}/{} (node port)", f.port, f.protocol) : address_port(f.address, f.port, f.protocol),
         f.no_endpoints       ? std::string(f.chain.empty() ? "(no endpoints for its traffic policy: dropped)" : "(no endpoints: rejected)")
         : f.backends.empty() ? std::string("(none)")
                              : fmt::format("{}", fmt::join(f.backends, ", "))});
  print_table(rows);
  return 0;
}

// The pin directory of the node asked for, or of the only node pinned under the root.
Result<std::string> ebpf_pin_dir(const StatusOptions& o) {
  if (!o.node_name.empty()) return o.bpf_root + "/" + o.node_name;
  std::vector<std::string> nodes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(o.bpf_root, ec))
    if (entry.is_directory()) nodes.push_back(entry.path().filename().string());
  if (nodes.size() == 1) return o.bpf_root + "/" + nodes.front();
  if (nodes.empty()) return o.bpf_root + "/-";  // nothing pinned: reads as empty
  return fail(ErrorCode::Invalid,
              fmt::format("{} holds the pins of several nodes ({}): give --node-name", o.bpf_root, fmt::join(nodes, ", ")));
}

int status_ebpf(const StatusOptions& o) {
  auto pin_dir = ebpf_pin_dir(o);
  if (!pin_dir) {
    std::cerr << "error: " << pin_dir.error() << "\n";
    return 2;
  }
  auto all = dataplane::ebpf::read_programmed_frontends(*pin_dir);
  if (!all) {
    std::cerr << "error: " << all.error().message << "\n";
    return 1;
  }
  if (o.output == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& f : *all)
      out.push_back({{"serviceId", f.service_id},
                     {"address", f.address},
                     {"protocol", f.protocol},
                     {"port", f.port},
                     {"nodePort", f.address.empty()},
                     {"external", f.external},
                     {"local", f.local},
                     {"backends", f.backends}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (all->empty()) {
    std::cout << fmt::format("no services programmed (no switchyard BPF maps pinned in {})\n", *pin_dir);
    return 0;
  }
  std::vector<Row> rows;
  for (const auto& f : *all) {
    // tc frontends say so: they serve traffic arriving from outside the node.
    std::string frontend = f.address.empty() ? fmt::format("*:{}/{} (node port", f.port, f.protocol)
                           : f.external      ? address_port(f.address, f.port, f.protocol) + " (from outside"
                                             : address_port(f.address, f.port, f.protocol);
    if (f.external) frontend += f.local ? ", Local)" : ")";
    rows.push_back({fmt::format("id {}", f.service_id), std::move(frontend),
                    !f.backends.empty() ? fmt::format("{}", fmt::join(f.backends, ", "))
                    : f.external        ? std::string("(no endpoints for its traffic policy: dropped)")
                                        : std::string("(no endpoints: rejected)")});
  }
  print_table(rows);
  return 0;
}

}  // namespace

void register_status(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* sub =
      app.add_subcommand("status", "Show the services and backends programmed in the kernel right now (this network namespace)");
  sub->add_option("--mode", o->mode, "dataplane to read: nftables or ebpf")
      ->check(CLI::IsMember({"ebpf", "nftables"}))
      ->capture_default_str();
  sub->add_option("-o,--output", o->output, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
  sub->add_option("--bpf-root", o->bpf_root, "eBPF: where the agent pins its maps (its --bpf-root)")->capture_default_str();
  sub->add_option("--node-name", o->node_name, "eBPF: the node whose pins to read (default: the only one under --bpf-root)");
  sub->callback([&run, o] { run = [o] { return o->mode == "ebpf" ? status_ebpf(*o) : status_nftables(*o); }; });
}

}  // namespace switchyard::cmd
