// `switchyard validate -f FILE`: decodes manifests, applies the API server's defaults and
// validation, and prints the objects as the server would store them, or the server's errors.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/manifest.h"
#include "orchestrator/api/validation.h"
#include "cmd/commands.h"

namespace switchyard::cmd {

namespace {

struct ValidateOptions {
  std::vector<std::string> files;
  bool ipv6_primary = false;
  bool dual_stack = false;
  std::string node_port_range = "30000-32767";
};

std::optional<std::string> read_input(const std::string& path) {
  std::ostringstream out;
  if (path == "-") {
    out << std::cin.rdbuf();
    return out.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  out << in.rdbuf();
  return out.str();
}

std::string group_kind(const api::Object& o) {
  std::string av = api::api_version_of(o);
  auto slash = av.find('/');
  return slash == std::string::npos ? api::kind_of(o) : fmt::format("{}.{}", api::kind_of(o), av.substr(0, slash));
}

int run_validate(const ValidateOptions& opt) {
  api::ClusterNetworkConfig net;
  net.service_ip_families = opt.ipv6_primary ? std::vector<std::string>{"IPv6"} : std::vector<std::string>{"IPv4"};
  if (opt.dual_stack) net.service_ip_families.push_back(opt.ipv6_primary ? "IPv4" : "IPv6");
  if (std::sscanf(opt.node_port_range.c_str(), "%d-%d", &net.node_port_min, &net.node_port_max) != 2 || net.node_port_min < 1 ||
      net.node_port_max > 65535 || net.node_port_min > net.node_port_max) {
    std::cerr << fmt::format("error: --service-node-port-range {}: expected MIN-MAX within 1-65535\n", opt.node_port_range);
    return 2;
  }
  int status = 0;
  nlohmann::json items = nlohmann::json::array();
  for (const auto& file : opt.files) {
    auto text = read_input(file);
    if (!text) {
      std::cerr << fmt::format("error: {}: cannot read the file\n", file);
      status = 1;
      continue;
    }
    auto docs = api::decode_manifest(*text);
    if (!docs) {
      std::cerr << fmt::format("error: {}: {}\n", file, docs.error().message);
      status = 1;
      continue;
    }
    for (auto& d : *docs) {
      for (const auto& f : d.unknown_fields) std::cerr << fmt::format("Warning: {}: unknown field \"{}\"\n", file, f);
      api::apply_defaults(d.object, net);
      auto errors = api::validate(d.object, net);
      const auto& meta = api::meta_of(d.object);
      if (!errors.empty()) {
        std::cerr << fmt::format("error: {}: The {}\n", file,
                                 api::invalid_message(group_kind(d.object), meta.name.empty() ? meta.generate_name : meta.name, errors));
        status = 1;
        continue;
      }
      items.push_back(api::encode_object(d.object));
    }
  }
  if (items.size() == 1)
    std::cout << items[0].dump(2) << "\n";
  else if (!items.empty())
    std::cout << nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump(2) << "\n";
  return status;
}

}  // namespace

void register_validate(CLI::App& app, std::function<int()>& run) {
  auto opt = std::make_shared<ValidateOptions>();
  CLI::App* sub = app.add_subcommand("validate",
                                     "Decode manifests (JSON or YAML, multi-document), apply the API server's defaults and validation, "
                                     "and print the objects as stored, or the Kubernetes errors");
  sub->add_option("-f,--filename", opt->files, "manifest files ('-' for stdin)")->required();
  sub->add_flag("--ipv6", opt->ipv6_primary, "the service CIDR's primary family is IPv6");
  sub->add_flag("--dual-stack", opt->dual_stack, "the cluster has service CIDRs of both families");
  sub->add_option("--service-node-port-range", opt->node_port_range, "node port range, MIN-MAX")->capture_default_str();
  sub->callback([&run, opt] { run = [opt] { return run_validate(*opt); }; });
}

}  // namespace switchyard::cmd
