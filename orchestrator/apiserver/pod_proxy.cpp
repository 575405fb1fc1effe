#include "orchestrator/apiserver/pod_proxy.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/apiserver/query_params.h"
#include "orchestrator/apiserver/resources.h"
#include "orchestrator/apiserver/status.h"
#include "orchestrator/http/url.h"

namespace switchyard::apiserver {

namespace {

// /api/v1/namespaces/{ns}/pods/{name}/{sub}
struct PodProxyPath {
  std::string ns, name, subresource;
};

std::optional<PodProxyPath> parse_path(std::string_view path) {
  std::vector<std::string_view> seg;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) seg.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (seg.size() != 7 || seg[0] != "api" || seg[1] != "v1" || seg[2] != "namespaces" || seg[4] != "pods") return std::nullopt;
  if (seg[6] != "log" && seg[6] != "exec" && seg[6] != "attach" && seg[6] != "portforward") return std::nullopt;
  return PodProxyPath{std::string(seg[3]), std::string(seg[5]), std::string(seg[6])};
}

http::Response to_http(const ApiError& e) { return http::Response{e.code, "application/json", e.status.dump()}; }

// As apimachinery reads a bool parameter: absent, "0" and "false" are false.
bool flag(const http::QueryList& q, std::string_view name) {
  auto v = http::query_value(q, name);
  if (!v) return false;
  std::string lower = *v;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower != "0" && lower != "false";
}

std::string names_of(const Json& containers) {
  std::string out;
  if (containers.is_array())
    for (const auto& c : containers) out += (out.empty() ? "" : " ") + c.value("name", "");
  return out;
}

bool has_container(const Json& spec, const std::string& name) {
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"})
    if (spec.contains(list) && spec[list].is_array())
      for (const auto& c : spec[list])
        if (c.value("name", "") == name) return true;
  return false;
}

// The container the request means, as kube-apiserver's LogLocation / streamLocation pick it.
ApiResult<std::string> pick_container(const Json& pod, const std::string& name, std::string container) {
  const Json spec = pod.value("spec", Json::object());
  const Json containers = spec.value("containers", Json::array());
  if (container.empty()) {
    if (containers.size() == 1) return containers[0].value("name", "");
    if (containers.empty()) return std::unexpected(bad_request(fmt::format("a container name must be specified for pod {}", name)));
    std::string message = fmt::format("a container name must be specified for pod {}, choose one of: [{}]", name, names_of(containers));
    const Json init = spec.value("initContainers", Json::array());
    if (!init.empty()) message += fmt::format(" or one of the init containers: [{}]", names_of(init));
    return std::unexpected(bad_request(message));
  }
  if (!has_container(spec, container))
    return std::unexpected(bad_request(fmt::format("container {} is not valid for pod {}", container, name)));
  return container;
}

struct KubeletAddress {
  std::string ip;
  std::uint16_t port = 0;
};

// The node's InternalIP (else its first address) and the port its kubelet published.
ApiResult<KubeletAddress> kubelet_of(ObjectRegistry& registry, const std::string& node_name, std::uint16_t default_port) {
  const ResourceInfo* nodes = find_resource("", "v1", "nodes");
  auto node = registry.get(*nodes, "", node_name);
  if (!node) return std::unexpected(node.error());
  const Json status = node->value("status", Json::object());
  KubeletAddress k;
  for (const auto& a : status.value("addresses", Json::array()))
    if (a.value("type", "") == "InternalIP") {
      k.ip = a.value("address", "");
      break;
    }
  if (k.ip.empty())
    for (const auto& a : status.value("addresses", Json::array()))
      if (a.value("type", "") != "Hostname") k.ip = a.value("address", "");
  if (k.ip.empty()) return std::unexpected(internal_error(fmt::format("node {} has no address to reach its kubelet at", node_name)));
  const Json endpoint = status.value("daemonEndpoints", Json::object()).value("kubeletEndpoint", Json::object());
  const int port = endpoint.value("Port", 0);
  k.port = port > 0 && port < 65536 ? static_cast<std::uint16_t>(port) : default_port;
  return k;
}

// The kubelet-side query: upstream's streamParams (exec/attach flags as "1") and log options.
http::QueryList kubelet_query(const std::string& sub, const http::QueryList& q) {
  http::QueryList out;
  if (sub == "log") {
    for (const char* f : {"follow", "previous", "timestamps"})
      if (flag(q, f)) out.emplace_back(f, "true");
    for (const char* v : {"sinceSeconds", "sinceTime", "tailLines", "limitBytes"})
      if (auto value = http::query_value(q, v)) out.emplace_back(v, *value);
    return out;
  }
  if (sub == "portforward") {
    for (const auto& p : http::query_values(q, "ports")) out.emplace_back("port", p);
    return out;
  }
  const std::pair<const char*, const char*> flags[] = {{"stdin", "input"}, {"stdout", "output"}, {"stderr", "error"}, {"tty", "tty"}};
  for (const auto& [theirs, ours] : flags)
    if (flag(q, theirs)) out.emplace_back(ours, "1");
  if (sub == "exec")
    for (const auto& c : http::query_values(q, "command")) out.emplace_back("command", c);
  return out;
}

}  // namespace

bool is_pod_proxy_path(std::string_view path) { return parse_path(path).has_value(); }

http::Response proxy_pod_subresource(ObjectRegistry& registry, const KubeletClientConfig& kubelet, const http::Request& request) {
  auto path = parse_path(request.path());
  if (!path) return to_http(not_found_path());
  const bool is_log = path->subresource == "log";
  if (is_log ? request.method != "GET" : request.method != "GET" && request.method != "POST") return to_http(method_not_allowed());
  const auto qpos = request.target.find('?');
  const auto query = http::parse_query(qpos == std::string::npos ? "" : std::string_view(request.target).substr(qpos + 1));
  for (const char* integer : {"sinceSeconds", "tailLines", "limitBytes"}) {
    auto v = http::query_value(query, integer);
    if (v && (v->empty() || v->find_first_not_of("-0123456789") != std::string::npos))
      return to_http(bad_request(fmt::format("invalid value for {}: \"{}\"", integer, *v)));
  }

  auto pod = registry.get(*find_resource("", "v1", "pods"), path->ns, path->name);
  if (!pod) return to_http(pod.error());
  std::string kubelet_path;
  if (path->subresource == "portforward") {
    kubelet_path = fmt::format("/portForward/{}/{}", path->ns, path->name);
  } else {
    auto container = pick_container(*pod, path->name, http::query_value(query, "container").value_or(""));
    if (!container) return to_http(container.error());
    const char* kind = is_log ? "containerLogs" : path->subresource == "exec" ? "exec" : "attach";
    kubelet_path = fmt::format("/{}/{}/{}/{}", kind, path->ns, path->name, *container);
    if (!is_log && path->subresource == "exec" && http::query_values(query, "command").empty())
      return to_http(bad_request("you must specify at least 1 command"));
  }
  const std::string node_name = pod->value("spec", Json::object()).value("nodeName", "");
  if (node_name.empty()) {
    // Upstream: a log request for an unscheduled pod is an empty answer, the rest an error.
    if (is_log) return http::Response{200, "text/plain", ""};
    return to_http(bad_request(fmt::format("pod {} does not have a host assigned", path->name)));
  }
  auto address = kubelet_of(registry, node_name, kubelet.default_port);
  if (!address) return to_http(address.error());

  const std::string qs = http::query_string(kubelet_query(path->subresource, query));
  http::Headers headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    // The API server's own credentials replace the client's; a log request gets one answer.
    if (lower == "authorization" || lower == "host" || lower == "content-length" || lower == "transfer-encoding") continue;
    if (is_log && (lower == "connection" || lower == "upgrade" || lower == "keep-alive")) continue;
    headers.emplace_back(name, value);
  }
  const bool v6 = address->ip.find(':') != std::string::npos;
  headers.emplace_back("Host", v6 ? fmt::format("[{}]:{}", address->ip, address->port) : fmt::format("{}:{}", address->ip, address->port));
  if (is_log) headers.emplace_back("Connection", "close");
  if (!request.body.empty()) headers.emplace_back("Content-Length", std::to_string(request.body.size()));

  auto tunnel = std::make_shared<http::Tunnel>();
  tunnel->address = address->ip;
  tunnel->port = address->port;
  tunnel->tls = true;
  tunnel->cert_file = kubelet.cert_file;
  tunnel->key_file = kubelet.key_file;
  tunnel->ca_file = kubelet.ca_file;
  tunnel->request = http::request_head(request.method, kubelet_path + (qs.empty() ? "" : "?" + qs), headers) + request.body;
  tunnel->unreachable = [](const std::string& error) { return to_http(internal_error(error)); };
  spdlog::debug("event=pod_proxy pod={}/{} sub={} node={} kubelet={}:{}", path->ns, path->name, path->subresource, node_name, address->ip,
                address->port);
  http::Response out;
  out.tunnel = std::move(tunnel);
  return out;
}

}  // namespace switchyard::apiserver
