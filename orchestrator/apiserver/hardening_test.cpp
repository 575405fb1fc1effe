// Regression tests for the API server's security and robustness findings (the hardening issue),
// each through the client that showed it: curl against a real `switchyard apiserver` process.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sy-hardening-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = std::to_string(switchyard::testing::free_loopback_port());
    ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=switchyard "
                  "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                  (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string() + " 2>&1")
                  .exit_code,
              0);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  fs::path data_dir() const { return dir_ / "data"; }
  // Own certificate and key, no --token-file: the case that used to serve everyone.
  std::vector<std::string> own_cert_argv() const {
    return {SWITCHYARD_BINARY,    "apiserver",       "--data-dir",        data_dir().string(),      "--listen",
            "127.0.0.1:" + port_, "--tls-cert-file", (dir_ / "cert.pem"), "--tls-private-key-file", (dir_ / "key.pem")};
  }
  void start(const std::vector<std::string>& argv) {
    server_ = std::make_unique<ChildProcess>(argv, (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(10, [&] { return curl("/readyz", false).output == "ok"; })) << log();
  }
  std::string log() const { return run("cat " + (dir_ / "apiserver.log").string()).output; }
  std::string token() const {
    std::ifstream in(data_dir() / "admin.token");
    std::string t;
    std::getline(in, t);
    return t;
  }
  // curl's output, then the HTTP status on a line of its own.
  testing::CommandResult curl(const std::string& target, bool auth = true, const std::string& extra = "") const {
    return run("curl -sS --cacert " + (dir_ / "cert.pem").string() + (auth ? " -H 'Authorization: Bearer " + token() + "'" : "") + " " +
               extra + " 'https://127.0.0.1:" + port_ + target + "'");
  }
  int status_of(const std::string& target, bool auth = true, const std::string& extra = "") const {
    auto r = run("curl -sS -o /dev/null -w '%{http_code}' --cacert " + (dir_ / "cert.pem").string() +
                 (auth ? " -H 'Authorization: Bearer " + token() + "'" : "") + " " + extra + " 'https://127.0.0.1:" + port_ + target + "'");
    return std::atoi(r.output.c_str());
  }

  fs::path dir_;
  std::string port_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(Hardening, OwnCertificateWithoutTokenFileStillRequiresTheAdminToken) {
  start(own_cert_argv());
  EXPECT_EQ(status_of("/api/v1/namespaces", false), 401);
  EXPECT_EQ(status_of("/api/v1/namespaces", false, "-X POST -H 'Content-Type: application/json' -d '{\"metadata\":{\"name\":\"x\"}}'"),
            401);
  ASSERT_FALSE(token().empty()) << "the data directory's admin.token, as --token-file's help says";
  EXPECT_EQ(status_of("/api/v1/namespaces"), 200);
  struct stat st {};
  ASSERT_EQ(::stat((data_dir() / "admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(data_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a new data directory is private";
}

TEST_F(Hardening, DeeplyNestedPatchesAreRefusedAndTheServerLives) {
  start(own_cert_argv());
  ASSERT_EQ(status_of("/api/v1/namespaces", true, "-X POST -H 'Content-Type: application/json' -d '{\"metadata\":{\"name\":\"deep\"}}'"),
            201);
  // 20,000 levels in 120 KB: this used to kill the server with SIGSEGV.
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "{\"a\":";
  deep += "1";
  deep += std::string(20000, '}');
  std::ofstream(dir_ / "deep.json") << deep;
  std::ofstream(dir_ / "deep-patch.json") << "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":" << deep << "}]";
  for (const auto& [type, file] : std::vector<std::pair<std::string, std::string>>{{"application/merge-patch+json", "deep.json"},
                                                                                   {"application/strategic-merge-patch+json", "deep.json"},
                                                                                   {"application/json-patch+json", "deep-patch.json"}}) {
    auto r = curl("/api/v1/namespaces/deep", true, "-X PATCH -H 'Content-Type: " + type + "' --data-binary @" + (dir_ / file).string());
    EXPECT_THAT(r.output, HasSubstr("\"code\":400")) << type;
    EXPECT_THAT(r.output, HasSubstr("nested too deeply")) << type;
    EXPECT_TRUE(server_->running()) << type << "\n" << log();
  }
  // Each operation of a JSON patch is shallow, but each may nest 150 levels under the last:
  // 80 of them would build an object 12,000 deep. What the patch builds is limited too, and the
  // object is left as it was.
  std::string level = "1", ops = "[";
  for (int i = 0; i < 150; ++i) level = "{\"a\":" + level + "}";
  std::string path = "/metadata/labels";
  ops += "{\"op\":\"add\",\"path\":\"" + path + "\",\"value\":" + level + "}";
  for (int op = 0; op < 80; ++op) {
    for (int i = 0; i < 150; ++i) path += "/a";
    ops += ",{\"op\":\"replace\",\"path\":\"" + path + "\",\"value\":" + level + "}";
  }
  std::ofstream(dir_ / "growing-patch.json") << ops << "]";
  auto grown = curl("/api/v1/namespaces/deep", true,
                    "-X PATCH -H 'Content-Type: application/json-patch+json' --data-binary @" + (dir_ / "growing-patch.json").string());
  EXPECT_THAT(grown.output, HasSubstr("\"code\":422"));
  EXPECT_THAT(grown.output, HasSubstr("the patched object is nested too deeply"));
  EXPECT_THAT(curl("/api/v1/namespaces/deep", true).output, Not(HasSubstr("\"a\"")));
  auto del = curl("/api/v1/namespaces/deep", true,
                  "-X DELETE -H 'Content-Type: application/json' --data-binary @" + (dir_ / "deep.json").string());
  EXPECT_THAT(del.output, HasSubstr("\"code\":400"));
  EXPECT_EQ(status_of("/api/v1/namespaces/deep"), 200);
}

TEST_F(Hardening, QueryParametersAreReadAsKubeApiserverReadsThem) {
  start(own_cert_argv());
  // A malformed escape is the client's error (it was a 500).
  auto bad = curl("/api/v1/namespaces?labelSelector=%zz");
  EXPECT_THAT(bad.output, HasSubstr("\"code\":400"));
  EXPECT_THAT(bad.output, HasSubstr("invalid URL escape"));
  EXPECT_EQ(status_of("/api/v1/namespaces?labelSelector=%zz", false), 401) << "nothing is read before authentication";
  EXPECT_THAT(curl("/api/v1/namespaces?limit=ten").output, HasSubstr("limit: invalid integer"));
  // watch=True (what a widely used Python client sends), watch=1 and a bare watch all stream.
  for (const std::string watch : {"watch=True", "watch=1", "watch", "watch=TRUE"}) {
    auto r = curl("/api/v1/namespaces?" + watch + "&timeoutSeconds=1", true, "--max-time 5");
    EXPECT_THAT(r.output, HasSubstr("\"type\":\"ADDED\"}")) << watch;
    EXPECT_THAT(r.output, Not(HasSubstr("\"kind\":\"NamespaceList\""))) << watch;
  }
  for (const std::string no_watch : {"watch=false", "watch=0", "watch=False"})
    EXPECT_THAT(curl("/api/v1/namespaces?" + no_watch).output, HasSubstr("\"kind\":\"NamespaceList\"")) << no_watch;
}

TEST_F(Hardening, APlantableDataDirectoryIsRefused) {
  fs::create_directories(data_dir());
  ::chmod(data_dir().c_str(), 0777);
  auto refused = run("timeout 10 " + std::string(SWITCHYARD_BINARY) + " apiserver --data-dir " + data_dir().string() +
                     " --listen 127.0.0.1:" + port_ + " 2>&1");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("writable by group or others"));
  EXPECT_FALSE(fs::exists(data_dir() / "pki")) << "nothing is written into a refused directory";

  // A token others can read is refused too, and so is a symbolic link planted as the token.
  ::chmod(data_dir().c_str(), 0700);
  std::ofstream(data_dir() / "admin.token") << "planted\n";
  ::chmod((data_dir() / "admin.token").c_str(), 0644);
  auto readable = run("timeout 10 " + std::string(SWITCHYARD_BINARY) + " apiserver --data-dir " + data_dir().string() +
                      " --listen 127.0.0.1:" + port_ + " 2>&1");
  EXPECT_NE(readable.exit_code, 0);
  EXPECT_THAT(readable.output, HasSubstr("admin.token: readable by group or others"));
  fs::remove(data_dir() / "admin.token");
  fs::create_symlink(dir_ / "key.pem", data_dir() / "admin.token");
  auto link = run("timeout 10 " + std::string(SWITCHYARD_BINARY) + " apiserver --data-dir " + data_dir().string() +
                  " --listen 127.0.0.1:" + port_ + " 2>&1");
  EXPECT_NE(link.exit_code, 0);
  EXPECT_THAT(link.output, HasSubstr("symbolic link"));
}

}  // namespace
}  // namespace switchyard::apiserver
