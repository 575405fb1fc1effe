// `switchyard apiserver`: the Kubernetes-compatible API server on a persistent store.
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/pki.h"
#include "orchestrator/controllers/endpointslice_controller.h"
#include "orchestrator/cmd/commands.h"
#include "orchestrator/store/etcd_store.h"
#include "orchestrator/store/sqlite_store.h"

namespace switchyard::cmd {

namespace {

struct ApiserverOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:6443";
  std::string service_cidr = "10.96.0.0/12";
  std::string node_port_range = "30000-32767";
  std::string store = "sqlite";
  std::string tls_cert, tls_key, token_file;
  bool plain_http = false;
  int compaction_interval_seconds = 300;
};

// As kube-apiserver: every interval, compact the store to the revision seen one interval ago,
// so watchers have at least an interval to catch up and history does not grow forever.
std::thread start_compactor(store::Store& store, int interval_seconds, std::atomic<bool>& stopping) {
  return std::thread([&store, interval_seconds, &stopping] {
    store::Revision previous = 0;
    while (!stopping) {
      for (int i = 0; i < interval_seconds * 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (stopping) return;
      if (previous > 0) (void)store.compact(previous);
      previous = store.current_revision().value_or(0);
    }
  });
}

std::expected<std::unique_ptr<store::Store>, std::string> open_store(const ApiserverOptions& o) {
  if (o.store == "sqlite") {
    auto s = store::SqliteStore::open(o.data_dir + "/store.db");
    if (!s) return std::unexpected(s.error().message);
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  if (o.store.starts_with("etcd=")) {
    auto s = store::EtcdStore::connect(o.store.substr(5));
    if (!s) return std::unexpected(s.error().message);
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  return std::unexpected(fmt::format("--store {}: expected sqlite or etcd=http://HOST:PORT", o.store));
}

// The namespaces every cluster has.
void ensure_system_namespaces(apiserver::ObjectRegistry& registry) {
  const auto* ns = apiserver::find_resource("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    std::vector<std::string> warnings;
    (void)registry.create(*ns, "", apiserver::Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}},
                          apiserver::FieldValidation::Strict, warnings);
  }
}

// The `kubernetes` Service in `default`, on the first IP of the service CIDR.
void ensure_kubernetes_service(apiserver::ObjectRegistry& registry, const std::string& first_ip, int port) {
  const auto* svc = apiserver::find_resource("", "v1", "services");
  std::vector<std::string> warnings;
  (void)registry.create(*svc, "default",
                        apiserver::Json{{"apiVersion", "v1"},
                                        {"kind", "Service"},
                                        {"metadata", {{"name", "kubernetes"}, {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                                        {"spec", {{"clusterIP", first_ip}, {"ports", {{{"name", "https"}, {"port", 443}, {"targetPort", port}}}}}}},
                        apiserver::FieldValidation::Strict, warnings);
}

int run_apiserver(const ApiserverOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) {
    std::cerr << fmt::format("error: --data-dir {}: {}\n", o.data_dir, ec.message());
    return 1;
  }
  const auto colon = o.listen.rfind(':');
  std::string listen_host = o.listen.substr(0, colon);
  if (listen_host.starts_with('[')) listen_host = listen_host.substr(1, listen_host.size() - 2);
  auto st = open_store(o);
  if (!st) {
    std::cerr << "error: " << st.error() << "\n";
    return 1;
  }
  api::ClusterNetworkConfig net;
  if (std::sscanf(o.node_port_range.c_str(), "%d-%d", &net.node_port_min, &net.node_port_max) != 2) {
    std::cerr << fmt::format("error: --service-node-port-range {}: expected MIN-MAX\n", o.node_port_range);
    return 1;
  }
  auto ip_allocator = apiserver::ClusterIpAllocator::create(**st, o.service_cidr);
  if (!ip_allocator) {
    std::cerr << fmt::format("error: --service-cidr {}: {}\n", o.service_cidr, ip_allocator.error());
    return 1;
  }
  auto port_allocator = apiserver::NodePortAllocator::create(**st, net.node_port_min, net.node_port_max);
  if (!port_allocator) {
    std::cerr << fmt::format("error: --service-node-port-range {}: {}\n", o.node_port_range, port_allocator.error());
    return 1;
  }
  net.service_ip_families = {std::string((*ip_allocator)->family())};
  const std::string first_ip = (*ip_allocator)->range().at(0);

  // Credentials: given files, or the data directory's own CA, serving certificate and token.
  std::string token, cert = o.tls_cert, key = o.tls_key;
  std::optional<apiserver::Credentials> creds;
  if (!o.plain_http && (cert.empty() || key.empty())) {
    auto c = apiserver::ensure_credentials({.data_dir = o.data_dir, .listen_host = listen_host, .first_service_ip = first_ip});
    if (!c) {
      std::cerr << "error: " << c.error() << "\n";
      return 1;
    }
    creds = *c;
    cert = c->serving_cert_file.string();
    key = c->serving_key_file.string();
    token = c->admin_token;
  }
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    std::getline(in, token);
    if (token.empty()) {
      std::cerr << fmt::format("error: --token-file {}: empty or unreadable\n", o.token_file);
      return 1;
    }
  }
  apiserver::ServiceAllocators allocators{{ip_allocator->get()}, port_allocator->get()};
  apiserver::ObjectRegistry registry(**st, net, &allocators);
  ensure_system_namespaces(registry);
  apiserver::ApiHandler handler(registry, token);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto server = apiserver::HttpServer::start(handler, {o.listen, o.plain_http ? "" : cert, o.plain_http ? "" : key});
  if (!server) {
    std::cerr << "error: " << server.error() << "\n";
    return 1;
  }
  ensure_kubernetes_service(registry, first_ip, (*server)->port());
  std::string kubeconfig;
  if (creds) {
    auto written = apiserver::write_admin_kubeconfig(o.data_dir, *creds, listen_host, static_cast<std::uint16_t>((*server)->port()));
    if (!written) {
      std::cerr << "error: " << written.error() << "\n";
      return 1;
    }
    kubeconfig = written->string();
  }
  std::cout << fmt::format("switchyard apiserver: serving {} on {}:{} (store {})\n", o.plain_http ? "HTTP" : "HTTPS", listen_host,
                           (*server)->port(), o.store);
  if (!kubeconfig.empty()) std::cout << fmt::format("  kubectl --kubeconfig {} get services -A\n", kubeconfig);
  std::cout << std::flush;
  controllers::EndpointSliceController slices(registry);
  slices.start();
  std::atomic<bool> stopping{false};
  std::thread compactor = start_compactor(**st, std::max(1, o.compaction_interval_seconds), stopping);
  int sig = 0;
  sigwait(&signals, &sig);
  stopping = true;
  (*server)->stop();
  slices.stop();
  compactor.join();
  return 0;
}

}  // namespace

void register_apiserver(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<ApiserverOptions>();
  CLI::App* sub = app.add_subcommand("apiserver", "Run the Kubernetes-compatible API server on a persistent store");
  sub->add_option("--data-dir", o->data_dir, "directory for the store, certificates and kubeconfig")->required();
  sub->add_option("--listen", o->listen, "address to serve on")->capture_default_str();
  sub->add_option("--service-cidr", o->service_cidr, "ClusterIP range")->capture_default_str();
  sub->add_option("--service-node-port-range", o->node_port_range, "NodePort range")->capture_default_str();
  sub->add_option("--store", o->store, "sqlite, or etcd=http://HOST:PORT")->capture_default_str();
  sub->add_option("--tls-cert-file", o->tls_cert, "serving certificate (PEM); default: DIR/pki/apiserver.crt, made at first start");
  sub->add_option("--tls-private-key-file", o->tls_key, "serving key (PEM); default: DIR/pki/apiserver.key");
  sub->add_option("--token-file", o->token_file, "file holding the admin bearer token; default: DIR/admin.token");
  sub->add_flag("--insecure-plain-http", o->plain_http, "serve plain HTTP (tests only)");
  sub->add_option("--compaction-interval", o->compaction_interval_seconds, "seconds between store compactions")->capture_default_str();
  sub->callback([&run, o] { run = [o] { return run_apiserver(*o); }; });
}

}  // namespace switchyard::cmd
