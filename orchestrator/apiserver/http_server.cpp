#include "orchestrator/apiserver/http_server.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include <boost/algorithm/string/predicate.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/apiserver/status.h"

namespace switchyard::apiserver {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kWatchTick = std::chrono::milliseconds(250);
constexpr auto kFirstBookmark = std::chrono::seconds(1);
constexpr auto kBookmarkInterval = std::chrono::seconds(30);
constexpr auto kDefaultWatchTimeout = std::chrono::seconds(1800);

http::Response to_http(HttpResponse out) {
  http::Response res{out.code, std::move(out.content_type), std::move(out.body)};
  for (const auto& w : out.warnings) res.headers.emplace_back("Warning", fmt::format("299 - \"{}\"", w));
  return res;
}

http::Response to_http(const ApiError& e) {
  return http::Response{e.code, "application/json", e.status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace

HttpRequest to_api_request(const http::Request& r) {
  HttpRequest out{
      r.method, r.target, std::string(r.header("content-type")), std::string(r.header("accept")), std::string(r.header("authorization")),
      r.body};
  out.user_agent = r.header("user-agent");
  out.client_certificate_cn = r.client_certificate_cn;
  out.client_certificate_organizations = r.client_certificate_organizations;
  for (const auto& [name, value] : r.headers) {
    if (boost::iequals(name, "Impersonate-User")) out.impersonate.user = value;
    if (boost::iequals(name, "Impersonate-Group")) out.impersonate.groups.push_back(value);
  }
  return out;
}

namespace {

bool is_health_path(std::string_view path) { return path == "/healthz" || path == "/readyz" || path == "/livez"; }

// One watch being streamed: the store's events arrive on the store watch's thread, bookmarks
// and the timeout on the stream's ticker; one mutex keeps their order (a bookmark never claims
// a revision whose event is not written before it).
struct WatchSession {
  WatchSession(ApiHandler& h, WatchRequest r, std::shared_ptr<http::ResponseStream> s)
      : handler(h), request(std::move(r)), stream(std::move(s)) {}
  ApiHandler& handler;
  const WatchRequest request;
  std::shared_ptr<http::ResponseStream> stream;
  std::mutex mu;
  std::unique_ptr<WatchStream> watch;  // released when the stream ends
  store::Revision newest = 0;          // the highest resourceVersion written
  bool failed = false;
  Clock::time_point deadline, next_bookmark;

  void on_event(const WatchEvent& e) {
    store::Revision revision = 0;
    if (e.encoded) {
      revision = e.encoded->revision;
    } else if (e.type != "ERROR" && e.object.is_object()) {
      // Looked up in place: value() would copy the whole metadata.
      auto meta = e.object.find("metadata");
      if (meta != e.object.end() && meta->is_object())
        if (auto rv = meta->find("resourceVersion"); rv != meta->end() && rv->is_string())
          revision = std::strtoll(rv->get_ref<const std::string&>().c_str(), nullptr, 10);
    }
    std::string line = handler.event_line(request, e);
    std::lock_guard lock(mu);
    if (failed) return;
    newest = std::max(newest, revision);
    if (!stream->write(std::move(line))) return;
    if (e.type == "ERROR") {
      failed = true;
      stream->finish();
    }
  }

  void on_tick() {
    const auto now = Clock::now();
    if (now >= deadline) return stream->finish();
    if (!request.bookmarks || now < next_bookmark) return;
    std::lock_guard lock(mu);
    if (failed || !watch) return;
    // Every event up to `progress` has been handed to on_event, which wrote it (under mu).
    const store::Revision progress = watch->progress();
    if (progress <= 0 || progress < newest) return;  // a bookmark behind a written event would move the client back
    Json mark = {{"kind", request.resource->kind},
                 {"apiVersion", request.resource->api_version()},
                 {"metadata", {{"resourceVersion", std::to_string(progress)}, {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}};
    stream->write(handler.event_line(request, WatchEvent{"BOOKMARK", std::move(mark)}));
    next_bookmark = now + kBookmarkInterval;
  }
};

// Runs on the transport's handler threads once the response head is on its way.
void start_watch(ApiHandler& handler, const WatchRequest& w, std::shared_ptr<http::ResponseStream> stream) {
  auto session = std::make_shared<WatchSession>(handler, w, stream);
  session->deadline = Clock::now() + (w.timeout_seconds > 0 ? std::chrono::seconds(w.timeout_seconds) : kDefaultWatchTimeout);
  session->next_bookmark = Clock::now() + kFirstBookmark;
  auto watch = handler.registry().watch(*w.resource, w.ns, w.options, [s = session.get()](const WatchEvent& e) { s->on_event(e); });
  if (!watch) {
    stream->write(handler.event_line(w, WatchEvent{"ERROR", watch.error().status}));
    stream->finish();
    return;
  }
  {
    std::lock_guard lock(session->mu);
    session->watch = std::move(*watch);
  }
  // The client went, the timeout came, an ERROR ended it, or the server stops: the store watch
  // goes (its destructor waits for a running callback, so not under the session's mutex).
  stream->on_end([session] {
    std::unique_ptr<WatchStream> ending;
    {
      std::lock_guard lock(session->mu);
      ending = std::move(session->watch);
    }
  });
  stream->every(kWatchTick, [session] { session->on_tick(); });
}

http::Response error_response(int status, const std::string& message) {
  switch (status) {
    case 400:
      return to_http(bad_request(message));
    case 413:
      return to_http(too_large());
    case 500:
      return to_http(internal_error(message));
    case 431:
      return to_http(status_error(431, "RequestHeaderFieldsTooLarge", message));
    default:
      return to_http(status_error(status, "InternalError", message));
  }
}

}  // namespace

std::optional<http::Response> check_request_head(const ApiHandler& handler, const http::RequestHead& head) {
  if (is_health_path(head.path())) return std::nullopt;
  HttpRequest probe;
  probe.method = head.method;  // the one anonymous read (cluster-info) is known by method and path
  probe.target = head.target;
  probe.authorization = std::string(head.header("authorization"));
  probe.client_certificate_cn = head.client_certificate_cn;
  probe.client_certificate_organizations = head.client_certificate_organizations;
  if (handler.authorized(probe)) return std::nullopt;
  return to_http(unauthorized());
}

http::HttpServerOptions api_transport_defaults() {
  http::HttpServerOptions o;
  o.io_threads = 2;
  o.handler_threads = 8;  // requests that wait on the store (etcd, a SQLite write)
  o.max_body_bytes = kMaxRequestBodyBytes;
  return o;
}

HttpServer::HttpServer(std::unique_ptr<http::HttpServer> server) : server_(std::move(server)) {}
HttpServer::~HttpServer() { stop(); }
int HttpServer::port() const { return server_->port(); }
std::size_t HttpServer::connections() const { return server_->connections(); }
void HttpServer::stop() { server_->stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(ApiHandler& handler, HttpServerOptions options) {
  http::HttpServerOptions o = std::move(options.transport);
  o.listen = options.listen;
  o.tls_cert_file = options.tls_cert_file;
  o.tls_key_file = options.tls_key_file;
  o.name = "apiserver";
  o.max_body_bytes = std::min(o.max_body_bytes, kMaxRequestBodyBytes);
  // Who is asking is known from the head: an unauthenticated client is answered before it can
  // make the server read (and hold) a body.
  o.check_head = [&handler](const http::RequestHead& head) { return check_request_head(handler, head); };
  o.error_response = error_response;
  auto server = http::HttpServer::start(std::move(o), [&handler, kubelet = options.kubelet_client](http::Request& r) -> http::Response {
    // Authenticated in check_head like every request; answered by the node's kubelet.
    const HttpRequest request = to_api_request(r);
    if (is_pod_proxy_path(r.path())) {
      if (auto user = handler.admit(request); !user) return to_http(user.error());
      return proxy_pod_subresource(handler.registry(), kubelet, r);
    }
    std::optional<WatchRequest> watch;
    HttpResponse out = handler.handle(request, watch);  // a throw is the transport's 500
    if (!watch || out.code != 200) return to_http(std::move(out));
    http::Response res{200, watch->protobuf   ? std::string(api::protobuf::kWatchMediaType)
                            : watch->as_table ? "application/json;as=Table;v=v1;g=meta.k8s.io"
                                              : "application/json"};
    res.stream = [&handler, w = *watch](std::shared_ptr<http::ResponseStream> stream) { start_watch(handler, w, std::move(stream)); };
    return res;
  });
  if (!server) return fail(server.error());
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(*server)));
}

}  // namespace switchyard::apiserver
