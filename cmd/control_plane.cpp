#include "cmd/control_plane.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cmd/advertise_address.h"
#include "cmd/controller_manager.h"
#include "kubelet/server/kubelet_server.h"
#include "orchestrator/apiserver/admission.h"
#include "orchestrator/apiserver/allocation_repair.h"
#include "orchestrator/apiserver/allocators.h"
#include "orchestrator/apiserver/bootstrap_tokens.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/apiserver/jwt.h"
#include "orchestrator/apiserver/service_account_tokens.h"
#include "orchestrator/apiserver/rbac_bootstrap.h"
#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/kubernetes_endpoints.h"
#include "orchestrator/apiserver/pki.h"
#include "orchestrator/client/informer_factory.h"
#include "orchestrator/scheduler/scheduler.h"
#include "orchestrator/store/encrypting_store.h"
#include "orchestrator/store/etcd_store.h"
#include "orchestrator/store/sqlite_store.h"

namespace switchyard::cmd {

namespace {

Result<std::unique_ptr<store::Store>> open_backend(const ControlPlaneOptions& o) {
  if (o.store == "sqlite") {
    auto s = store::SqliteStore::open(o.data_dir + "/store.db");
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  if (o.store.starts_with("etcd=")) {
    auto s = store::EtcdStore::connect(o.store.substr(5));
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  return fail(ErrorCode::Invalid, fmt::format("--store {}: expected sqlite or etcd=http://HOST:PORT", o.store));
}

// The backend, behind the encryption of --encryption-provider-config when one is given. The file
// is read before the backend opens so that a bad one stops the start with nothing touched.
Result<std::unique_ptr<store::Store>> open_store(const ControlPlaneOptions& o) {
  std::optional<store::EncryptionConfig> encryption;
  if (!o.encryption_provider_config.empty()) {
    auto config = store::load_encryption_config(o.encryption_provider_config);
    if (!config) return fail(config.error());
    encryption = std::move(*config);
  }
  auto backend = open_backend(o);
  if (!backend || !encryption) return backend;
  for (const auto& [resource, chain] : *encryption) spdlog::info("event=encryption_at_rest resource={}", resource);
  return std::unique_ptr<store::Store>(std::make_unique<store::EncryptingStore>(std::move(*backend), std::move(*encryption)));
}

// Creates an object the cluster always has; one that exists already is fine.
Result<> ensure_object(apiserver::ObjectRegistry& registry, const char* plural, const std::string& ns, const apiserver::Json& object) {
  const auto* resource = apiserver::find_resource("", "v1", plural);
  // Looked up first: a create of the `kubernetes` Service that exists is refused for its cluster
  // IP (422, already allocated) before it could be refused as existing (409).
  if (registry.get(*resource, ns, object["metadata"].value("name", ""))) return {};
  std::vector<std::string> warnings;
  auto created = registry.create(*resource, ns, object, apiserver::FieldValidation::Strict, warnings);
  if (created || created.error().code == 409) return {};
  return fail(ErrorCode::Internal,
              fmt::format("creating {} {}: {}", plural, object["metadata"].value("name", ""), created.error().status.value("message", "")));
}

// The namespaces every cluster has.
Result<> ensure_system_namespaces(apiserver::ObjectRegistry& registry) {
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"})
    if (auto ok = ensure_object(registry, "namespaces", "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
        !ok)
      return ok;
  return {};
}

// The `kubernetes` Service in `default`, on the first IP of the service CIDR.
Result<> ensure_kubernetes_service(apiserver::ObjectRegistry& registry, const std::string& first_ip, int port) {
  return ensure_object(registry, "services", "default",
                       {{"apiVersion", "v1"},
                        {"kind", "Service"},
                        {"metadata", {{"name", "kubernetes"}, {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                        {"spec", {{"clusterIP", first_ip}, {"ports", {{{"name", "https"}, {"port", 443}, {"targetPort", port}}}}}}});
}

// Where this process reaches its own API server: an unspecified listen address through the
// loopback address of its family (which the serving certificate covers).
std::string loopback_for(const std::string& listen_host) {
  if (listen_host.empty() || listen_host == "0.0.0.0") return "127.0.0.1";
  if (listen_host == "::") return "::1";
  return listen_host;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The API server's credentials towards kubelets: given files, or with our own PKI a client
// certificate the cluster CA signs (the name kubelets' servers let in).
Result<apiserver::KubeletClientConfig> kubelet_client_config(const ControlPlaneOptions& o, const apiserver::Credentials* creds) {
  apiserver::KubeletClientConfig k{o.kubelet_client_cert, o.kubelet_client_key, o.kubelet_certificate_authority};
  if (!k.cert_file.empty() || !creds) return k;
  const auto pki = std::filesystem::path(o.data_dir) / "pki";
  apiserver::LeafCertificate leaf{.common_name = kubelet::server::kApiServerKubeletClientName,
                                  .client = true,
                                  .ca_cert_file = creds->ca_cert_file,
                                  .ca_key_file = creds->ca_key_file,
                                  .cert_file = pki / "apiserver-kubelet-client.crt",
                                  .key_file = pki / "apiserver-kubelet-client.key"};
  if (auto made = apiserver::ensure_leaf_certificate(leaf); !made) return fail(made.error());
  k.cert_file = leaf.cert_file.string();
  k.key_file = leaf.key_file.string();
  return k;
}
// The TokenRequest API and its authenticator, with the signing key of the flags or the data dir's.
Result<std::shared_ptr<apiserver::ServiceAccountTokens>> service_account_tokens(const ControlPlaneOptions& o,
                                                                                apiserver::ObjectRegistry& registry) {
  std::filesystem::path signing = o.service_account_signing_key_file;
  if (signing.empty()) {
    const auto pki = std::filesystem::path(o.data_dir) / "pki";
    if (auto ok = apiserver::ensure_private_dir(pki); !ok) return fail(ok.error());
    signing = pki / "sa.key";
    if (auto ok = apiserver::ensure_service_account_key(signing); !ok) return fail(with_context(ok.error(), signing.string()));
  }
  auto signer = apiserver::JwtSigner::load(signing);
  if (!signer) return fail(with_context(signer.error(), "--service-account-signing-key-file"));
  apiserver::JwtVerifier verifier;
  for (const auto& file : o.service_account_key_files)
    if (auto ok = verifier.add_keys(file); !ok) return fail(with_context(ok.error(), "--service-account-key-file"));
  if (o.service_account_issuer.empty()) return fail(ErrorCode::Invalid, "--service-account-issuer: must not be empty");
  return std::make_shared<apiserver::ServiceAccountTokens>(registry, std::move(*signer), std::move(verifier),
                                                           apiserver::ServiceAccountTokenOptions{.issuer = o.service_account_issuer});
}
}  // namespace

ControllerManagerOptions controller_manager_options(const ControlPlaneOptions& o) {
  return {.load_balancer_ip_pool = o.load_balancer_ip_pool,
          .node_monitor_grace_period_seconds = o.node_monitor_grace_period_seconds,
          .allocate_node_cidrs = o.allocate_node_cidrs,
          .cluster_cidrs = o.cluster_cidrs,
          .node_cidr_mask_size = o.node_cidr_mask_size,
          .node_cidr_mask_size_ipv4 = o.node_cidr_mask_size_ipv4,
          .node_cidr_mask_size_ipv6 = o.node_cidr_mask_size_ipv6,
          .enable_token_cleaner = o.enable_token_cleaner,
          .enable_node_dns_endpoints = o.enable_node_dns_endpoints,
          // With its own PKI the cluster CA signs the certificates of nodes that join.
          .cluster_signing_cert_file = o.tls_cert.empty() && !o.plain_http ? o.data_dir + "/pki/ca.crt" : "",
          .cluster_signing_key_file = o.tls_cert.empty() && !o.plain_http ? o.data_dir + "/pki/ca.key" : ""};
}

struct ControlPlane::Parts {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<apiserver::ClusterIpAllocator> ip_allocator;
  std::unique_ptr<apiserver::ClusterIpAllocator> ip_allocator_secondary;  // dual-stack: the other family's range
  std::unique_ptr<apiserver::NodePortAllocator> port_allocator;
  std::optional<apiserver::ServiceAllocators> allocators;
  std::optional<apiserver::ObjectRegistry> registry;
  // The registry's ServiceAccount admission, turned off again before the registry goes.
  struct ServiceAccountAdmission {
    const apiserver::ObjectRegistry* registry = nullptr;
    ~ServiceAccountAdmission() {
      if (registry) apiserver::enable_service_account_admission(*registry, false);
    }
  } service_account_admission;
  std::optional<apiserver::ApiHandler> handler;
  std::unique_ptr<apiserver::HttpServer> server;
  // The controllers, as a controller manager beside the API server: they reach it only through
  // the client, over HTTP(S) with the admin credentials, on informers shared between them.
  std::unique_ptr<client::SharedInformerFactory> informers;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<ControllerManager> controllers;  // none with --no-controllers
  // With leader election instead: each with informers of its own, while this process leads.
  std::unique_ptr<ElectedComponent> elected_scheduler, elected_controllers;
  std::unique_ptr<apiserver::KubernetesEndpointReconciler> kubernetes_endpoints;
  std::atomic<bool> stopping{false};
  std::thread compactor, repairer;
  bool stopped = false;

  // Waits up to `seconds`; false once stopping.
  bool wait(int seconds) {
    for (int i = 0; i < seconds * 10 && !stopping; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return !stopping;
  }

  // As kube-apiserver: every interval, compact the store to the revision seen one interval ago,
  // so watchers have at least an interval to catch up and history does not grow forever.
  void start_compactor(int interval_seconds) {
    compactor = std::thread([this, interval_seconds] {
      store::Revision previous = 0;
      while (wait(interval_seconds)) {
        if (previous > 0)
          if (auto done = store->compact(previous); !done && done.error().code != store::StoreErrorCode::Compacted)
            spdlog::warn("event=compaction_failed revision={} error=\"{}\"", previous, done.error().message);
        previous = store->current_revision().value_or(0);
      }
    });
  }

  // As kube-apiserver's repair controllers: ClusterIPs and node ports no Service holds go back
  // to their ranges (a release that failed after a delete, or a crash in between).
  void start_allocation_repair(int interval_seconds) {
    repairer = std::thread([this, interval_seconds] {
      apiserver::AllocationRepair repair(*store, *allocators);
      do {
        auto report = repair.run_once();
        if (!report)
          spdlog::warn("event=allocation_repair_failed error=\"{}\"", report.error().message);
        else if (report->released)
          spdlog::info("event=allocation_repair released={} held={}", report->released, report->held);
      } while (wait(interval_seconds));
    });
  }
};

ControlPlane::ControlPlane(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
ControlPlane::~ControlPlane() { stop(); }

void ControlPlane::stop() {
  if (parts_->stopped) return;
  parts_->stopped = true;
  parts_->stopping = true;
  if (parts_->elected_controllers) parts_->elected_controllers->stop();
  if (parts_->elected_scheduler) parts_->elected_scheduler->stop();
  if (parts_->controllers) parts_->controllers->stop();
  if (parts_->scheduler) parts_->scheduler->stop();
  if (parts_->kubernetes_endpoints) parts_->kubernetes_endpoints->stop();
  if (parts_->informers) parts_->informers->stop();
  if (parts_->server) parts_->server->stop();
  if (parts_->compactor.joinable()) parts_->compactor.join();
  if (parts_->repairer.joinable()) parts_->repairer.join();
}

int ControlPlane::port() const { return parts_->server->port(); }
std::string ControlPlane::service_ip(std::size_t n) const { return parts_->ip_allocator->range().at(n); }
apiserver::ObjectRegistry& ControlPlane::registry() { return *parts_->registry; }

Result<std::unique_ptr<ControlPlane>> ControlPlane::start(const ControlPlaneOptions& o) {
  // The data directory holds the CA, keys and token: 0700, and refused when another user could
  // have planted or changed what is in it.
  if (auto ok = apiserver::ensure_private_dir(o.data_dir); !ok) return fail(with_context(ok.error(), "--data-dir"));
  const auto colon = o.listen.rfind(':');
  std::string listen_host = o.listen.substr(0, colon);
  if (listen_host.starts_with('[')) listen_host = listen_host.substr(1, listen_host.size() - 2);
  auto advertise = choose_advertise_address(o.advertise_address, listen_host);
  if (!advertise && !o.advertise_address.empty()) return fail(advertise.error());
  if (!advertise)
    spdlog::warn("event=no_advertise_address error=\"{}\" effect=\"the kubernetes Service has no endpoints\"", advertise.error().message);
  const std::string advertise_ip = advertise.value_or("");
  const ControllerManagerOptions manager_options = controller_manager_options(o);
  if (o.run_controllers)  // refused before anything starts, as kube-controller-manager does
    if (auto ok = ControllerManager::check(manager_options); !ok) return fail(ok.error());
  auto parts = std::make_unique<Parts>();
  auto st = open_store(o);
  if (!st) return std::unexpected(st.error());
  parts->store = std::move(*st);
  api::ClusterNetworkConfig net;
  if (std::sscanf(o.node_port_range.c_str(), "%d-%d", &net.node_port_min, &net.node_port_max) != 2)
    return fail(ErrorCode::Invalid, fmt::format("--service-node-port-range {}: expected MIN-MAX", o.node_port_range));
  // One CIDR, or two of different families (dual-stack, primary first), as kube-apiserver's
  // --service-cluster-ip-range.
  const auto comma = o.service_cidr.find(',');
  const std::string primary_cidr = o.service_cidr.substr(0, comma);
  auto ip_allocator = apiserver::ClusterIpAllocator::create(*parts->store, primary_cidr);
  if (!ip_allocator) return fail(ErrorCode::Invalid, fmt::format("--service-cidr {}: {}", o.service_cidr, ip_allocator.error().message));
  parts->ip_allocator = std::move(*ip_allocator);
  if (comma != std::string::npos) {
    const std::string secondary_cidr = o.service_cidr.substr(comma + 1);
    auto secondary = apiserver::ClusterIpAllocator::create(*parts->store, secondary_cidr);
    if (!secondary) return fail(ErrorCode::Invalid, fmt::format("--service-cidr {}: {}", o.service_cidr, secondary.error().message));
    if ((*secondary)->family() == parts->ip_allocator->family())
      return fail(ErrorCode::Invalid, fmt::format("--service-cidr {}: two ranges must be of different IP families", o.service_cidr));
    parts->ip_allocator_secondary = std::move(*secondary);
  }
  auto port_allocator = apiserver::NodePortAllocator::create(*parts->store, net.node_port_min, net.node_port_max);
  if (!port_allocator)
    return fail(ErrorCode::Invalid, fmt::format("--service-node-port-range {}: {}", o.node_port_range, port_allocator.error().message));
  parts->port_allocator = std::move(*port_allocator);
  net.service_ip_families = {std::string(parts->ip_allocator->family())};
  if (parts->ip_allocator_secondary) net.service_ip_families.emplace_back(parts->ip_allocator_secondary->family());
  const std::string first_ip = parts->ip_allocator->range().at(0);

  // Credentials: given files, or the data directory's own CA, serving certificate and token.
  std::string token, cert = o.tls_cert, key = o.tls_key;
  std::optional<apiserver::Credentials> creds;
  if (!o.plain_http && (cert.empty() || key.empty())) {
    auto c = apiserver::ensure_credentials({.data_dir = o.data_dir,
                                            .listen_host = listen_host,
                                            .first_service_ip = first_ip,
                                            .extra_sans = advertise_ip.empty() ? std::vector<std::string>{} : std::vector{advertise_ip}});
    if (!c) return std::unexpected(c.error());
    creds = *c;
    cert = c->serving_cert_file.string();
    key = c->serving_key_file.string();
    token = c->admin_token;
  }
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    std::getline(in, token);
    if (token.empty()) return fail(ErrorCode::Invalid, fmt::format("--token-file {}: empty or unreadable", o.token_file));
  }
  // Never serve without an authenticator: with a certificate of one's own and no token file, the
  // admin token is the data directory's, as --token-file's help says.
  if (token.empty() && !o.plain_http) {
    bool created = false;
    auto t = apiserver::ensure_token(std::filesystem::path(o.data_dir) / "admin.token", created);
    if (!t) return fail(t.error());
    token = *t;
    spdlog::info("event=admin_token file={}/admin.token created={}", o.data_dir, created);
  }
  std::vector<apiserver::ClusterIpAllocator*> ip_allocators{parts->ip_allocator.get()};
  if (parts->ip_allocator_secondary) ip_allocators.push_back(parts->ip_allocator_secondary.get());
  parts->allocators.emplace(apiserver::ServiceAllocators{std::move(ip_allocators), parts->port_allocator.get()});
  parts->registry.emplace(*parts->store, net, &*parts->allocators);
  parts->registry->set_event_ttl(std::chrono::seconds(o.event_ttl_seconds));
  // Pods run as a ServiceAccount, with its token mounted (the ServiceAccount controller below
  // makes each namespace's `default`).
  apiserver::enable_service_account_admission(*parts->registry, true);
  parts->service_account_admission.registry = &*parts->registry;
  if (auto ok = ensure_system_namespaces(*parts->registry); !ok) return std::unexpected(ok.error());
  if (auto ok = apiserver::ensure_bootstrap_rbac(*parts->registry); !ok) return std::unexpected(ok.error());
  if (auto ok = apiserver::ensure_system_priority_classes(*parts->registry); !ok) return std::unexpected(ok.error());
  parts->handler.emplace(*parts->registry, token);
  auto sa_tokens = service_account_tokens(o, *parts->registry);
  if (!sa_tokens) return fail(sa_tokens.error());
  parts->handler->enable_service_account_tokens(std::move(*sa_tokens));
  apiserver::HttpServerOptions server_options{o.listen, o.plain_http ? "" : cert, o.plain_http ? "" : key};
  if (!o.token_auth_file.empty())
    if (auto ok = parts->handler->access().authenticator().load_token_file(o.token_auth_file); !ok) return fail(ok.error());
  if (o.enable_bootstrap_token_auth) {
    auto bootstrap = std::make_shared<apiserver::BootstrapTokenAuthenticator>(*parts->registry);
    parts->handler->access().authenticator().add_token_authenticator(
        [bootstrap](std::string_view token) { return bootstrap->authenticate(token); });
  }
  if (!o.component_tokens.empty())
    if (auto ok = parts->handler->access().authenticator().add_tokens(o.component_tokens, "component tokens"); !ok) return fail(ok.error());
  if (const std::string client_ca = !o.client_ca_file.empty() ? o.client_ca_file
                                    : creds                   ? creds->ca_cert_file.string()
                                                              : "";
      !client_ca.empty() && !o.plain_http) {
    server_options.transport.tls_client_ca_file = client_ca;
    parts->handler->access().authenticator().accept_client_certificates(true);
  }
  auto kubelet_client = kubelet_client_config(o, creds ? &*creds : nullptr);
  if (!kubelet_client) return fail(kubelet_client.error());
  server_options.kubelet_client = *kubelet_client;
  auto server = apiserver::HttpServer::start(*parts->handler, std::move(server_options));
  if (!server) return fail(server.error());
  parts->server = std::move(*server);
  if (auto ok = ensure_kubernetes_service(*parts->registry, first_ip, parts->server->port()); !ok) return std::unexpected(ok.error());
  if (!advertise_ip.empty()) {
    if (auto ok = apiserver::reconcile_kubernetes_endpoints(*parts->registry, advertise_ip, parts->server->port()); !ok)
      return fail(ok.error());
    parts->kubernetes_endpoints =
        std::make_unique<apiserver::KubernetesEndpointReconciler>(*parts->registry, advertise_ip, parts->server->port());
  }
  std::string kubeconfig;
  if (creds) {
    auto written = apiserver::write_admin_kubeconfig(o.data_dir, *creds, listen_host, static_cast<std::uint16_t>(parts->server->port()));
    if (!written) return std::unexpected(written.error());
    kubeconfig = written->string();
  }
  client::ClusterConnection self{.host = loopback_for(listen_host),
                                 .port = std::to_string(parts->server->port()),
                                 .ca_pem = creds ? creds->ca_cert_pem : read_file(cert),
                                 .token = token,
                                 .tls = !o.plain_http};
  if (o.leader_election.enabled) {
    if (o.run_scheduler)
      parts->elected_scheduler =
          std::make_unique<ElectedComponent>(self, leader_election_config(o.leader_election, "kube-scheduler"), "scheduler",
                                             [self](client::SharedInformerFactory& informers) -> Result<std::function<void()>> {
                                               auto s = std::make_shared<scheduler::Scheduler>(informers, self);
                                               s->start();
                                               return [s] { s->stop(); };
                                             });
    if (o.run_controllers)
      parts->elected_controllers = std::make_unique<ElectedComponent>(
          self, leader_election_config(o.leader_election, "kube-controller-manager"), "controller-manager",
          [self, manager_options](client::SharedInformerFactory& informers) -> Result<std::function<void()>> {
            auto manager = ControllerManager::start(informers, self, manager_options);
            if (!manager) return fail(manager.error());
            std::shared_ptr<ControllerManager> m = std::move(*manager);
            return [m] { m->stop(); };
          });
  } else {
    parts->informers = std::make_unique<client::SharedInformerFactory>(self);
    if (o.run_scheduler) {
      parts->scheduler = std::make_unique<scheduler::Scheduler>(*parts->informers, self);
      parts->scheduler->start();
    }
    if (o.run_controllers) {
      auto manager = ControllerManager::start(*parts->informers, self, manager_options);
      if (!manager) return fail(manager.error());
      parts->controllers = std::move(*manager);
    }
  }
  parts->start_compactor(std::max(1, o.compaction_interval_seconds));
  parts->start_allocation_repair(std::max(1, o.allocation_repair_interval_seconds));
  auto plane = std::unique_ptr<ControlPlane>(new ControlPlane(std::move(parts)));
  plane->kubeconfig_ = std::move(kubeconfig);
  plane->listen_host_ = std::move(listen_host);
  plane->advertise_address_ = advertise_ip;
  return plane;
}

}  // namespace switchyard::cmd
