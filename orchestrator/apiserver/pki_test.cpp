// The first-start credentials checked with OpenSSL itself, the openssl CLI and a real kubectl.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <fstream>
#include <memory>
#include <sstream>

#include "orchestrator/apiserver/kubeconfig.h"
#include "orchestrator/apiserver/pki.h"
#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "switchyard-pki-XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0xffff;
  return st.st_mode & 0777;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr load(const fs::path& p) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(p.c_str(), "r"), &std::fclose);
  if (!f) return nullptr;
  return X509Ptr(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

// X509_verify_cert with only the CA in the store, for the serverAuth purpose.
bool chain_verifies(const fs::path& ca_file, const fs::path& cert_file, std::string* error) {
  X509Ptr ca = load(ca_file), cert = load(cert_file);
  if (!ca || !cert) return false;
  std::unique_ptr<X509_STORE, void (*)(X509_STORE*)> store(X509_STORE_new(), &X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, void (*)(X509_STORE_CTX*)> ctx(X509_STORE_CTX_new(), &X509_STORE_CTX_free);
  X509_STORE_add_cert(store.get(), ca.get());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  int ok = X509_verify_cert(ctx.get());
  if (ok != 1 && error) *error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  return ok == 1;
}

struct CommandResult {
  int status;
  std::string output;
};

CommandResult run(const std::string& command) {
  CommandResult r{-1, {}};
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

PkiOptions options_for(const fs::path& dir, std::string listen = "192.0.2.10") {
  PkiOptions o;
  o.data_dir = dir;
  o.listen_host = std::move(listen);
  o.first_service_ip = "10.96.0.1";
  return o;
}

TEST(PkiTest, FirstStartCreatesAChainThatVerifies) {
  TempDir dir;
  auto c = ensure_credentials(options_for(dir.path()));
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->created_ca);
  EXPECT_TRUE(c->created_serving_cert);
  EXPECT_TRUE(c->created_token);

  std::string error;
  EXPECT_TRUE(chain_verifies(c->ca_cert_file, c->serving_cert_file, &error)) << error;

  X509Ptr ca = load(c->ca_cert_file);
  ASSERT_TRUE(ca);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN);
  char cn[64]{};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "switchyard-ca");
  // Ten years, give or take the hour of back-dating.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.get()), X509_get0_notAfter(ca.get())), 1);
  EXPECT_EQ(days, 3650);

  X509Ptr serving = load(c->serving_cert_file);
  ASSERT_TRUE(serving);
  EXPECT_EQ(X509_check_ca(serving.get()), 0);
  for (const char* ip : {"192.0.2.10", "127.0.0.1", "::1", "10.96.0.1"})
    EXPECT_EQ(X509_check_ip_asc(serving.get(), ip, 0), 1) << ip;
  EXPECT_NE(X509_check_ip_asc(serving.get(), "192.0.2.11", 0), 1);
  for (const char* host : {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                           "kubernetes.default.svc.cluster.local"})
    EXPECT_EQ(X509_check_host(serving.get(), host, 0, 0, nullptr), 1) << host;

  EXPECT_EQ(mode_of(c->ca_key_file), 0600u);
  EXPECT_EQ(mode_of(c->serving_key_file), 0600u);
  EXPECT_EQ(mode_of(c->token_file), 0600u);
  EXPECT_EQ(mode_of(c->ca_cert_file), 0644u);
  EXPECT_EQ(mode_of(dir.path() / "pki"), 0700u);

  EXPECT_EQ(c->admin_token.size(), 64u);
  EXPECT_EQ(c->admin_token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(slurp(c->token_file), c->admin_token + "\n");
  EXPECT_EQ(slurp(c->ca_cert_file), c->ca_cert_pem);
}

TEST(PkiTest, SecondStartReusesEverything) {
  TempDir dir;
  auto first = ensure_credentials(options_for(dir.path()));
  ASSERT_TRUE(first) << first.error();
  const std::string serving = slurp(first->serving_cert_file);
  auto second = ensure_credentials(options_for(dir.path()));
  ASSERT_TRUE(second) << second.error();
  EXPECT_FALSE(second->created_ca);
  EXPECT_FALSE(second->created_serving_cert) << second->serving_cert_reason;
  EXPECT_FALSE(second->created_token);
  EXPECT_EQ(second->ca_cert_pem, first->ca_cert_pem);
  EXPECT_EQ(second->admin_token, first->admin_token);
  EXPECT_EQ(slurp(second->serving_cert_file), serving);
}

TEST(PkiTest, ANewListenAddressRegeneratesOnlyTheServingCert) {
  TempDir dir;
  auto first = ensure_credentials(options_for(dir.path(), "192.0.2.10"));
  ASSERT_TRUE(first) << first.error();
  const std::string old_serving = slurp(first->serving_cert_file);
  const std::string old_key = slurp(first->serving_key_file);

  auto second = ensure_credentials(options_for(dir.path(), "198.51.100.7"));
  ASSERT_TRUE(second) << second.error();
  EXPECT_FALSE(second->created_ca);
  EXPECT_TRUE(second->created_serving_cert);
  EXPECT_EQ(second->serving_cert_reason, "does not cover IP 198.51.100.7");
  EXPECT_EQ(second->ca_cert_pem, first->ca_cert_pem);
  EXPECT_EQ(second->admin_token, first->admin_token);
  EXPECT_NE(slurp(second->serving_cert_file), old_serving);
  EXPECT_NE(slurp(second->serving_key_file), old_key);

  std::string error;
  EXPECT_TRUE(chain_verifies(second->ca_cert_file, second->serving_cert_file, &error)) << error;
  X509Ptr serving = load(second->serving_cert_file);
  EXPECT_EQ(X509_check_ip_asc(serving.get(), "198.51.100.7", 0), 1);
  EXPECT_EQ(mode_of(second->serving_key_file), 0600u);
}

TEST(PkiTest, AHostNameAndExtraSansAreCovered) {
  TempDir dir;
  PkiOptions o = options_for(dir.path(), "apiserver.example.test");
  o.extra_sans = {"203.0.113.9", "switchyard.local"};
  auto c = ensure_credentials(o);
  ASSERT_TRUE(c) << c.error();
  X509Ptr serving = load(c->serving_cert_file);
  EXPECT_EQ(X509_check_host(serving.get(), "apiserver.example.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(serving.get(), "switchyard.local", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(serving.get(), "203.0.113.9", 0), 1);
}

TEST(PkiTest, AnUnspecifiedListenAddressIsNotPutInTheCertificate) {
  const SubjectAltNames sans = serving_sans(options_for("/nonexistent", "0.0.0.0"));
  EXPECT_EQ(sans.ips, (std::vector<std::string>{"127.0.0.1", "::1", "10.96.0.1"}));
  EXPECT_EQ(sans.dns_names.size(), 5u);
}

TEST(PkiTest, ACaCertificateWithoutItsKeyIsAnError) {
  TempDir dir;
  auto first = ensure_credentials(options_for(dir.path()));
  ASSERT_TRUE(first) << first.error();
  fs::remove(first->ca_key_file);
  auto second = ensure_credentials(options_for(dir.path()));
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("ca.crt exists without"), std::string::npos) << second.error();
  EXPECT_NE(second.error().message.find("ca.key"), std::string::npos) << second.error();
}

TEST(PkiTest, OpensslCliVerifiesTheChain) {
  TempDir dir;
  auto c = ensure_credentials(options_for(dir.path()));
  ASSERT_TRUE(c) << c.error();
  auto r = run("openssl verify -purpose sslserver -CAfile " + c->ca_cert_file.string() + " " +
               c->serving_cert_file.string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(": OK"), std::string::npos) << r.output;
  auto sans = run("openssl x509 -noout -ext subjectAltName -in " + c->serving_cert_file.string());
  EXPECT_NE(sans.output.find("DNS:kubernetes.default.svc.cluster.local"), std::string::npos) << sans.output;
  EXPECT_NE(sans.output.find("IP Address:10.96.0.1"), std::string::npos) << sans.output;
}

TEST(KubeconfigTest, KubectlReadsServerTokenAndCaBack) {
  TempDir dir;
  auto c = ensure_credentials(options_for(dir.path()));
  ASSERT_TRUE(c) << c.error();
  const fs::path kc = dir.path() / "kubeconfig";
  auto w = write_kubeconfig(kc, {server_url("192.0.2.10", 6443), c->ca_cert_pem, c->admin_token});
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ(mode_of(kc), 0600u);

  const std::string kubectl = std::string(SWITCHYARD_KUBECTL) + " config view --kubeconfig " + kc.string() +
                              " --raw --minify -o jsonpath=";
  auto server = run(kubectl + "'{.clusters[0].cluster.server}'");
  EXPECT_EQ(server.status, 0) << server.output;
  EXPECT_EQ(server.output, "https://192.0.2.10:6443");
  auto token = run(kubectl + "'{.users[0].user.token}'");
  EXPECT_EQ(token.output, c->admin_token);
  auto context = run(std::string(SWITCHYARD_KUBECTL) + " config current-context --kubeconfig " + kc.string());
  EXPECT_EQ(context.output, "switchyard\n");
  auto ca = run(kubectl + "'{.clusters[0].cluster.certificate-authority-data}' | base64 -d");
  EXPECT_EQ(ca.output, c->ca_cert_pem);
}

bool accepts_connections(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// `openssl s_server -www` presenting the serving certificate; killed (by its pid) on destruction.
class TlsServer {
 public:
  TlsServer(const Credentials& c, std::uint16_t port) {
    const std::string accept = "127.0.0.1:" + std::to_string(port);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", accept.c_str(), "-cert",
               c.serving_cert_file.c_str(), "-key", c.serving_key_file.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !accepts_connections(port); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~TlsServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  pid_t pid_ = -1;
};

// kubectl trusts the CA and finds 127.0.0.1 among the SANs: a TLS server presenting
// apiserver.crt answers `kubectl get --raw /` (s_server ignores the token).
TEST(KubeconfigTest, KubectlTrustsTheServingCertificate) {
  TempDir dir;
  auto c = ensure_credentials(options_for(dir.path(), "0.0.0.0"));
  ASSERT_TRUE(c) << c.error();
  const std::uint16_t port = switchyard::testing::free_loopback_port();
  auto kc = write_admin_kubeconfig(dir.path(), *c, "0.0.0.0", port);
  ASSERT_TRUE(kc) << kc.error();
  EXPECT_EQ(*kc, dir.path() / "kubeconfig");
  TlsServer server(*c, port);

  auto ok = run(std::string(SWITCHYARD_KUBECTL) + " --kubeconfig " + kc->string() + " get --raw /");
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_NE(ok.output.find("s_server"), std::string::npos) << ok.output;

  // The same server through a kubeconfig that trusts another CA is refused.
  TempDir other;
  auto foreign = ensure_credentials(options_for(other.path()));
  ASSERT_TRUE(foreign) << foreign.error();
  auto bad_kc = write_admin_kubeconfig(other.path(), *foreign, "127.0.0.1", port);
  ASSERT_TRUE(bad_kc) << bad_kc.error();
  auto refused = run(std::string(SWITCHYARD_KUBECTL) + " --kubeconfig " + bad_kc->string() + " get --raw /");
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.output.find("certificate signed by unknown authority"), std::string::npos) << refused.output;
}

TEST(KubeconfigTest, ServerUrls) {
  EXPECT_EQ(server_url("127.0.0.1", 6443), "https://127.0.0.1:6443");
  EXPECT_EQ(server_url("0.0.0.0", 6443), "https://127.0.0.1:6443");
  EXPECT_EQ(server_url("::", 443), "https://[::1]:443");
  EXPECT_EQ(server_url("fd00::5", 443), "https://[fd00::5]:443");
  EXPECT_EQ(server_url("api.example.test", 8443), "https://api.example.test:8443");
  EXPECT_EQ(base64_encode("hello!?"), "aGVsbG8hPw==");
}

TEST(TokenAuthenticatorTest, AcceptsOnlyTheBearerToken) {
  TokenAuthenticator auth("0123abcd");
  auto user = auth.authenticate("Bearer 0123abcd");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->name, "admin");
  EXPECT_EQ(user->groups, (std::vector<std::string>{"system:masters", "system:authenticated"}));
  EXPECT_TRUE(auth.authenticate("  bearer 0123abcd \r\n"));
  EXPECT_TRUE(auth.authenticate("BEARER 0123abcd trailing"));
  EXPECT_FALSE(auth.authenticate("Bearer 0123abce"));
  EXPECT_FALSE(auth.authenticate("Bearer 0123abcd0"));
  EXPECT_FALSE(auth.authenticate("Bearer 0123abc"));
  EXPECT_FALSE(auth.authenticate("Bearer "));
  EXPECT_FALSE(auth.authenticate("Bearer"));
  EXPECT_FALSE(auth.authenticate("Basic 0123abcd"));
  EXPECT_FALSE(auth.authenticate("0123abcd"));
  EXPECT_FALSE(auth.authenticate(""));
}

}  // namespace
}  // namespace switchyard::apiserver
