// libFuzzer entry point for the API server's request path without a socket: the input is the
// raw bytes a client sends. They go through the transport's parser (request line, headers,
// Content-Length and chunked bodies, the header and body limits), the head check that answers
// 401 before a body is read, and the handler (query parsing, routing, content negotiation, body
// decoding, admission, the store) of a server on a real SQLite store in a temporary directory,
// with the default namespaces, the bootstrap RBAC roles and the ClusterIP/NodePort allocators.
// The server is open (no credentials configured: every request is the admin), so that every
// route is reached. Must never crash, hang or leak; any status is fine, but a 5xx the handler
// returns (other than 503/504, a busy store) is a bug and aborts. A handler that throws gets the
// transport's 500, as in the server.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string_view>

#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/apiserver/pod_proxy.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"
#include "orchestrator/http/request_parser.h"
#include "orchestrator/store/sqlite_store.h"

namespace {

using namespace switchyard;
using namespace switchyard::apiserver;

struct Server {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ClusterIpAllocator> ips;
  std::unique_ptr<NodePortAllocator> ports;
  std::unique_ptr<ServiceAllocators> allocators;
  std::unique_ptr<ObjectRegistry> registry;
  std::unique_ptr<ApiHandler> handler;
};

[[noreturn]] void die(const char* what, const std::string& why) {
  std::fprintf(stderr, "api_request_fuzz: %s: %s\n", what, why.c_str());
  std::abort();
}

Server* make_server() {
  auto* s = new Server;
  char tmpl[] = "/dev/shm/sy-api-request-fuzz-XXXXXX";
  char tmpl_tmp[] = "/tmp/sy-api-request-fuzz-XXXXXX";
  const char* made = mkdtemp(tmpl);
  if (!made) made = mkdtemp(tmpl_tmp);
  if (!made) die("mkdtemp", "no temporary directory");
  s->dir = made;
  static std::filesystem::path remove_at_exit = s->dir;
  std::atexit([] { std::filesystem::remove_all(remove_at_exit); });
  auto st = store::SqliteStore::open((s->dir / "store.db").string());
  if (!st) die("store", st.error().message);
  s->store = std::move(*st);
  auto ips = ClusterIpAllocator::create(*s->store, "10.96.0.0/12");
  if (!ips) die("ClusterIP allocator", ips.error().message);
  s->ips = std::move(*ips);
  auto ports = NodePortAllocator::create(*s->store, 30000, 32767);
  if (!ports) die("NodePort allocator", ports.error().message);
  s->ports = std::move(*ports);
  s->allocators = std::make_unique<ServiceAllocators>(ServiceAllocators{{s->ips.get()}, s->ports.get()});
  api::ClusterNetworkConfig net;
  net.service_ip_families = {std::string(s->ips->family())};
  s->registry = std::make_unique<ObjectRegistry>(*s->store, net, s->allocators.get());
  for (const char* ns : {"default", "kube-system"}) {
    std::vector<std::string> warnings;
    auto made_ns =
        s->registry->create(*find_resource("", "v1", "namespaces"), "",
                            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}, FieldValidation::Strict, warnings);
    if (!made_ns) die("namespace", made_ns.error().status.dump());
  }
  if (auto ok = ensure_bootstrap_rbac(*s->registry); !ok) die("bootstrap RBAC", ok.error().message);
  s->handler = std::make_unique<ApiHandler>(*s->registry, "");  // open: every request is the admin
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Server* server = make_server();
  const auto limits = api_transport_defaults();
  auto parsed = http::parse_request(std::string_view(reinterpret_cast<const char*>(data), size), limits.max_header_bytes,
                                    std::min(limits.max_body_bytes, kMaxRequestBodyBytes));
  if (!parsed.request) return 0;
  http::Request& request = *parsed.request;
  if (auto early = check_request_head(*server->handler, request)) return 0;
  // Pod subresources go to a kubelet over the network: not this target's business.
  if (is_pod_proxy_path(request.path())) return 0;
  std::optional<WatchRequest> watch;
  HttpResponse out;
  try {
    out = server->handler->handle(to_api_request(request), watch);
  } catch (const std::exception& e) {
    // What the transport does with a throw: a 500 for this request, the server goes on. Known:
    // invalid UTF-8 in User-Agent (the field manager) makes the write's JSON dump throw.
    return 0;
  }
  static const bool verbose = std::getenv("SY_FUZZ_VERBOSE") != nullptr;  // the replay's view: what each seed got
  if (verbose) std::fprintf(stderr, "%s %s -> %d\n", request.method.c_str(), request.target.c_str(), out.code);
  if (out.code >= 500 && out.code != 503 && out.code != 504) die("5xx answer", std::to_string(out.code) + " " + out.body);
  return 0;
}
