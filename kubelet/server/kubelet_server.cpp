#include "kubelet/server/kubelet_server.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kubelet/pods/pod_config.h"
#include "kubelet/server/container_logs.h"
#include "orchestrator/http/server.h"
#include "orchestrator/http/url.h"

namespace switchyard::kubelet::server {

namespace {

std::vector<std::string> split_path(std::string_view p) {
  std::vector<std::string> out;
  while (!p.empty()) {
    const auto slash = p.find('/');
    if (slash != 0) out.emplace_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

// Upstream's kubelet reads the stream flags as "1" (the API server's input/output/error/tty).
bool stream_flag(const http::QueryList& q, std::string_view name) {
  auto v = http::query_value(q, name);
  return v && (*v == "1" || *v == "true" || *v == "True");
}

// The request as the runtime's streaming server should see it: its own path (the token is the
// session), the client's headers (Upgrade, X-Stream-Protocol-Version, Sec-WebSocket-*) kept.
std::shared_ptr<http::Tunnel> tunnel_to(const std::string& runtime_url, const http::Request& request) {
  auto url = http::parse_url(runtime_url);
  if (!url) return nullptr;
  auto t = std::make_shared<http::Tunnel>();
  t->address = url->host == "localhost" ? "127.0.0.1" : url->host;
  t->port = url->port;
  t->tls = url->scheme == "https";  // enable_tls_streaming: the runtime's own certificate, not ours to check
  http::Headers headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "host" || lower == "content-length" || lower == "transfer-encoding" || lower == "authorization") continue;
    headers.emplace_back(name, value);
  }
  headers.emplace_back("Host", url->host + ":" + std::to_string(url->port));
  if (!request.body.empty()) headers.emplace_back("Content-Length", std::to_string(request.body.size()));
  t->request = http::request_head(request.method, url->target, headers) + request.body;
  t->unreachable = [](const std::string& error) { return status_response(502, "InternalError", error); };
  return t;
}

}  // namespace

struct KubeletServer::Impl {
  KubeletServerOptions options;
  std::shared_ptr<cri::CriClient> cri;
  std::unique_ptr<http::HttpServer> server;

  http::Response handle(http::Request& r);
  http::Response stream(const std::string& kind, const std::vector<std::string>& seg, const http::QueryList& q, http::Request& r);
  Result<std::string> running_container(const std::string& ns, const std::string& pod, const std::string& container);
  Result<std::string> ready_sandbox(const std::string& ns, const std::string& pod);
};

Result<std::string> KubeletServer::Impl::running_container(const std::string& ns, const std::string& pod, const std::string& container) {
  cri::ContainerFilter filter;
  filter.state = cri::ContainerState::Running;
  filter.label_selector = {{kubelet::kPodNamespaceLabel, ns}, {kubelet::kPodNameLabel, pod}, {kubelet::kContainerNameLabel, container}};
  auto listed = cri->list_containers(filter);
  if (!listed) return fail(listed.error());
  if (listed->empty()) return fail(ErrorCode::NotFound, fmt::format("container not found (\"{}\")", container));
  return listed->front().id;
}

Result<std::string> KubeletServer::Impl::ready_sandbox(const std::string& ns, const std::string& pod) {
  cri::PodSandboxFilter filter;
  filter.state = cri::SandboxState::Ready;
  filter.label_selector = {{kubelet::kPodNamespaceLabel, ns}, {kubelet::kPodNameLabel, pod}};
  auto listed = cri->list_pod_sandbox(filter);
  if (!listed) return fail(listed.error());
  if (listed->empty()) return fail(ErrorCode::NotFound, fmt::format("pod {}/{} not found", ns, pod));
  return listed->front().id;
}

http::Response KubeletServer::Impl::stream(const std::string& kind, const std::vector<std::string>& seg, const http::QueryList& q,
                                           http::Request& r) {
  Result<std::string> url = fail(ErrorCode::Invalid, "");
  if (kind == "portForward") {
    if (seg.size() != 3) return status_response(404, "NotFound", "expected /portForward/{namespace}/{pod}");
    auto sandbox = ready_sandbox(seg[1], seg[2]);
    if (!sandbox) return status_response(sandbox.error().code == ErrorCode::NotFound ? 404 : 503, "NotFound", sandbox.error().message);
    std::vector<int32_t> ports;
    for (const auto& p : http::query_values(q, "port")) try {
        ports.push_back(std::stoi(p));
      } catch (const std::exception&) {
        return status_response(400, "BadRequest", fmt::format("invalid port \"{}\"", p));
      }
    url = cri->port_forward(*sandbox, ports);
  } else {
    if (seg.size() != 4) return status_response(404, "NotFound", fmt::format("expected /{}/{{namespace}}/{{pod}}/{{container}}", kind));
    auto id = running_container(seg[1], seg[2], seg[3]);
    if (!id) return status_response(id.error().code == ErrorCode::NotFound ? 404 : 503, "NotFound", id.error().message);
    cri::StreamRequest request;
    request.container_id = *id;
    request.tty = stream_flag(q, "tty");
    request.stdin = stream_flag(q, "input");
    request.stdout_ = stream_flag(q, "output");
    request.stderr_ = stream_flag(q, "error") && !request.tty;
    if (kind == "exec") {
      request.cmd = http::query_values(q, "command");
      if (request.cmd.empty()) return status_response(400, "BadRequest", "you must specify at least 1 command");
      url = cri->exec(request);
    } else {
      url = cri->attach(request);
    }
  }
  if (!url) return status_response(500, "InternalError", fmt::format("{}: {}", kind, url.error().message));
  auto tunnel = tunnel_to(*url, r);
  if (!tunnel) return status_response(500, "InternalError", fmt::format("the runtime's stream URL \"{}\" cannot be parsed", *url));
  spdlog::info("event=kubelet_stream kind={} target=\"{}\"", kind, r.target);
  http::Response out;
  out.tunnel = std::move(tunnel);
  return out;
}

http::Response KubeletServer::Impl::handle(http::Request& r) {
  const auto qpos = r.target.find('?');
  const auto seg = split_path(r.path());
  const auto query = http::parse_query(qpos == std::string::npos ? "" : std::string_view(r.target).substr(qpos + 1));
  if (seg.empty()) return status_response(404, "NotFound", "404 page not found");
  if (seg[0] == "healthz") return http::Response{200, "text/plain", "ok"};
  if (seg[0] == "containerLogs") {
    if (r.method != "GET") return status_response(405, "MethodNotAllowed", "only GET is allowed");
    if (seg.size() != 4) return status_response(404, "NotFound", "expected /containerLogs/{namespace}/{pod}/{container}");
    return container_logs(cri, seg[1], seg[2], seg[3], query);
  }
  if (seg[0] == "exec" || seg[0] == "attach" || seg[0] == "portForward") {
    if (r.method != "GET" && r.method != "POST") return status_response(405, "MethodNotAllowed", "only GET and POST are allowed");
    return stream(seg[0], seg, query, r);
  }
  return status_response(404, "NotFound", "404 page not found");
}

KubeletServer::KubeletServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeletServer::~KubeletServer() { stop(); }

Result<std::unique_ptr<KubeletServer>> KubeletServer::start(KubeletServerOptions options) {
  if (options.tls_cert_file.empty() || options.client_ca_file.empty())
    return fail(ErrorCode::Invalid, "the kubelet server needs a serving certificate and a client CA: it serves nobody without TLS");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  auto cri = cri::CriClient::connect(impl->options.runtime_endpoint);
  if (!cri) return fail(cri.error());
  impl->cri = std::shared_ptr<cri::CriClient>(std::move(*cri));

  http::HttpServerOptions o;
  o.listen = impl->options.listen;
  o.name = "kubelet";
  o.tls_cert_file = impl->options.tls_cert_file;
  o.tls_key_file = impl->options.tls_key_file;
  o.tls_client_ca_file = impl->options.client_ca_file;
  o.io_threads = 1;
  o.handler_threads = 2;
  // As the kubelet's authenticator: a verified client certificate is the only credential.
  o.check_head = [users = impl->options.authorized_users](const http::RequestHead& head) -> std::optional<http::Response> {
    if (head.client_certificate_cn.empty()) return status_response(401, "Unauthorized", "Unauthorized");
    if (std::find(users.begin(), users.end(), head.client_certificate_cn) == users.end())
      return status_response(403, "Forbidden", fmt::format("user \"{}\" may not use the kubelet API", head.client_certificate_cn));
    return std::nullopt;
  };
  o.error_response = [](int status, const std::string& message) { return status_response(status, "InternalError", message); };
  auto* raw = impl.get();
  auto server = http::HttpServer::start(std::move(o), [raw](http::Request& r) { return raw->handle(r); });
  if (!server) return fail(server.error());
  impl->server = std::move(*server);
  return std::unique_ptr<KubeletServer>(new KubeletServer(std::move(impl)));
}

std::uint16_t KubeletServer::port() const { return impl_->server ? impl_->server->port() : 0; }

void KubeletServer::stop() {
  if (impl_->server) impl_->server->stop();
}

}  // namespace switchyard::kubelet::server
