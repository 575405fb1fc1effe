// Requests made, parsed and signed with a CA made here by the openssl command line (an
// independent implementation), and kubeadm's CA pin checked against openssl's own digest.
#include "orchestrator/base/x509_requests.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class X509Requests : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("x509-requests-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=test-ca -keyout " +
        (dir_ / "ca.key").string() + " -out " + (dir_ / "ca.crt").string() + " 2>/dev/null");
    ca_cert_ = slurp(dir_ / "ca.crt");
    ca_key_ = slurp(dir_ / "ca.key");
    ASSERT_NE(ca_cert_.find("BEGIN CERTIFICATE"), std::string::npos);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string ca_cert_, ca_key_;
};

TEST_F(X509Requests, MadeRequestParsesWithItsSubject) {
  auto made = make_key_and_request("system:node:n1", {"system:nodes"});
  ASSERT_TRUE(made) << made.error().message;
  auto info = parse_certificate_request(made->request_pem);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_EQ(info->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_TRUE(info->dns_names.empty());
}

TEST_F(X509Requests, RequestWithSansFromOpenssl) {
  run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/O=a/O=b/CN=x' -addext "
      "'subjectAltName=DNS:h.example,IP:10.1.2.3' -keyout " +
      (dir_ / "r.key").string() + " -out " + (dir_ / "r.csr").string() + " 2>/dev/null");
  auto info = parse_certificate_request(slurp(dir_ / "r.csr"));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->common_name, "x");
  EXPECT_EQ(info->organizations, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(info->dns_names, std::vector<std::string>{"h.example"});
  EXPECT_EQ(info->ip_addresses, std::vector<std::string>{"10.1.2.3"});
}

TEST_F(X509Requests, WrongPemTypeIsRefusedInUpstreamWords) {
  auto info = parse_certificate_request(ca_cert_);
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().message, "PEM block type must be CERTIFICATE REQUEST");
  EXPECT_FALSE(parse_certificate_request("not pem"));
}

TEST_F(X509Requests, SignedCertificateVerifiesWithOpensslAndKeepsTheSubject) {
  auto made = make_key_and_request("system:node:n2", {"system:nodes"});
  ASSERT_TRUE(made);
  auto cert = sign_client_certificate(made->request_pem, ca_cert_, ca_key_, 3600);
  ASSERT_TRUE(cert) << cert.error().message;
  std::ofstream(dir_ / "leaf.crt") << *cert;
  EXPECT_NE(run("openssl verify -CAfile " + (dir_ / "ca.crt").string() + " " + (dir_ / "leaf.crt").string()).find("OK"), std::string::npos);
  const std::string text = run("openssl x509 -noout -text -in " + (dir_ / "leaf.crt").string());
  EXPECT_NE(text.find("TLS Web Client Authentication"), std::string::npos) << text;
  auto subject = certificate_subject(*cert);
  ASSERT_TRUE(subject);
  EXPECT_EQ(subject->common_name, "system:node:n2");
  EXPECT_EQ(subject->organizations, std::vector<std::string>{"system:nodes"});
}

TEST_F(X509Requests, PinIsKubeadmsSpkiDigest) {
  // kubeadm's documented way to compute --discovery-token-ca-cert-hash.
  const std::string expected = run("openssl x509 -pubkey -in " + (dir_ / "ca.crt").string() +
                                   " | openssl pkey -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //'");
  auto pin = public_key_pin(ca_cert_);
  ASSERT_TRUE(pin) << pin.error().message;
  EXPECT_EQ(*pin, "sha256:" + expected.substr(0, expected.find('\n')));
}

}  // namespace
}  // namespace switchyard
