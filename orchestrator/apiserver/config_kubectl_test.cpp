// ConfigMaps, Secrets and ServiceAccounts through real kubectl (1.27 and 1.33) against a real
// `switchyard apiserver` process: the kubectl create generators, tables, describe, the Secret
// types' validation and immutability with kube-apiserver's 422 messages, and the controller
// that gives every namespace a `default` ServiceAccount.
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
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

class ConfigWithKubectl : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = "/usr/lib/google-cloud-sdk/bin/kubectl." + GetParam();
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-config-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);
    const std::string port = std::to_string(switchyard::testing::free_loopback_port());
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", (dir_ / "data").string(), "--listen", "127.0.0.1:" + port},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(15, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
    ns_ = "cfg-" + std::to_string(getpid());
    ASSERT_EQ(k("create namespace " + ns_).exit_code, 0);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "data" / "kubeconfig").string() + " " + args);
  }
  testing::CommandResult kn(const std::string& args) { return k(args + " -n " + ns_); }
  std::string jsonpath(const std::string& object, const std::string& path) {
    return kn("get " + object + " -o jsonpath='" + path + "'").output;
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::string kubectl_, ns_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

TEST_P(ConfigWithKubectl, ConfigMapsFromLiteralsAndFiles) {
  const std::string conf = file("app.conf", "listen 8080\nworkers 2\n");
  EXPECT_EQ(kn("create configmap app --from-literal=mode=fast --from-literal=level=3 --from-file=" + conf).output,
            "configmap/app created\n");
  EXPECT_THAT(kn("get configmaps").output, ContainsRegex("^NAME +DATA +AGE\napp +3 +[0-9]+s\n"));
  EXPECT_THAT(kn("get cm app").output, ContainsRegex("\napp +3 +"));
  EXPECT_EQ(jsonpath("cm/app", "{.data.mode}"), "fast");
  EXPECT_EQ(jsonpath("cm/app", "{.data.app\\.conf}"), "listen 8080\nworkers 2\n");
  const auto described = kn("describe configmap app").output;
  EXPECT_THAT(described, HasSubstr("Name:         app"));
  EXPECT_THAT(described, HasSubstr("app.conf:\n----\nlisten 8080\nworkers 2\n"));
  // An update shows through get; a second create of the same name is refused.
  ASSERT_EQ(kn("patch cm app --type=merge -p '{\"data\":{\"mode\":\"slow\"}}'").exit_code, 0);
  EXPECT_EQ(jsonpath("cm/app", "{.data.mode}"), "slow");
  EXPECT_THAT(kn("create configmap app --from-literal=a=b").output, HasSubstr("configmaps \"app\" already exists"));
  // Keys a file cannot be named after are refused with the real message.
  const std::string bad_key = file("badkey.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: badkey}\ndata: {\"a/b\": x}\n");
  EXPECT_THAT(kn("create -f " + bad_key).output,
              HasSubstr("The ConfigMap \"badkey\" is invalid: data[a/b]: Invalid value: \"a/b\": a valid config key must consist of "
                        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                        "validation is '[-._a-zA-Z0-9]+')"));
}

TEST_P(ConfigWithKubectl, ImmutableConfigMapsAndSecretsRefuseChanges) {
  const std::string imm = file("imm.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata: {name: frozen}
immutable: true
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: frozen}
immutable: true
stringData: {a: "1"}
)");
  ASSERT_EQ(kn("create -f " + imm).exit_code, 0);
  EXPECT_THAT(kn("patch cm frozen --type=merge -p '{\"data\":{\"a\":\"2\"}}'").output,
              HasSubstr("The ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"));
  EXPECT_THAT(kn("patch cm frozen --type=merge -p '{\"immutable\":false}'").output,
              HasSubstr("The ConfigMap \"frozen\" is invalid: immutable: Forbidden: field is immutable when `immutable` is set"));
  EXPECT_THAT(kn("patch secret frozen --type=merge -p '{\"stringData\":{\"a\":\"2\"}}'").output,
              HasSubstr("The Secret \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"));
  EXPECT_EQ(jsonpath("cm/frozen", "{.data.a}"), "1");
  // Labels may still change, and the object may be deleted.
  EXPECT_EQ(kn("label cm frozen tier=x").exit_code, 0);
  EXPECT_EQ(kn("delete cm frozen").output, "configmap \"frozen\" deleted\n");
}

TEST_P(ConfigWithKubectl, SecretsOfEachType) {
  EXPECT_EQ(kn("create secret generic db --from-literal=user=admin --from-literal=password=s3cr3t").output, "secret/db created\n");
  EXPECT_THAT(kn("get secrets").output, ContainsRegex("^NAME +TYPE +DATA +AGE\ndb +Opaque +2 +"));
  EXPECT_EQ(jsonpath("secret/db", "{.data.password}"), "czNjcjN0");  // base64 of s3cr3t
  const auto described = kn("describe secret db").output;
  EXPECT_THAT(described, HasSubstr("Type:  Opaque"));
  EXPECT_THAT(described, ContainsRegex("password: +6 bytes"));
  EXPECT_THAT(described, Not(HasSubstr("s3cr3t")));

  const std::string key = (dir_ / "tls.key").string(), crt = (dir_ / "tls.crt").string();
  ASSERT_EQ(run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + crt + " -subj /CN=web -days 1 2>&1").exit_code, 0);
  EXPECT_EQ(kn("create secret tls web --cert=" + crt + " --key=" + key).output, "secret/web created\n");
  EXPECT_THAT(kn("get secret web").output, ContainsRegex("\nweb +kubernetes.io/tls +2 +"));

  // Each type's required keys, with the field the real server names.
  const std::string bad = file("bad.yaml", R"(apiVersion: v1
kind: Secret
metadata: {name: half-tls}
type: kubernetes.io/tls
stringData: {tls.crt: x}
---
apiVersion: v1
kind: Secret
metadata: {name: no-auth}
type: kubernetes.io/basic-auth
stringData: {other: x}
---
apiVersion: v1
kind: Secret
metadata: {name: no-ssh}
type: kubernetes.io/ssh-auth
data: {}
---
apiVersion: v1
kind: Secret
metadata: {name: bad-docker}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: "x-not-json"}
---
apiVersion: v1
kind: Secret
metadata: {name: orphan-token}
type: kubernetes.io/service-account-token
)");
  const auto out = kn("create -f " + bad).output;
  EXPECT_THAT(out, HasSubstr("Secret \"half-tls\" is invalid: data[tls.key]: Required value"));
  EXPECT_THAT(out, HasSubstr("Secret \"no-auth\" is invalid: [data[username]: Required value, data[password]: Required value]"));
  EXPECT_THAT(out, HasSubstr("Secret \"no-ssh\" is invalid: data[ssh-privatekey]: Required value"));
  EXPECT_THAT(out, HasSubstr("Secret \"bad-docker\" is invalid: data[.dockerconfigjson]: Invalid value: \"<secret contents "
                             "redacted>\": invalid character 'x' looking for beginning of value"));
  EXPECT_THAT(out, HasSubstr("Secret \"orphan-token\" is invalid: metadata.annotations[kubernetes.io/service-account.name]: "
                             "Required value"));
  EXPECT_THAT(kn("get secrets -o name").output, Not(HasSubstr("half-tls")));
  // A Secret's type cannot change.
  EXPECT_THAT(kn("patch secret db --type=merge -p '{\"type\":\"kubernetes.io/basic-auth\"}'").output,
              HasSubstr("The Secret \"db\" is invalid: type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"));
  // docker-registry writes a well-formed .dockerconfigjson.
  EXPECT_EQ(kn("create secret docker-registry pull --docker-server=r.local --docker-username=u --docker-password=p").output,
            "secret/pull created\n");
  EXPECT_THAT(kn("get secret pull").output, ContainsRegex("\npull +kubernetes.io/dockerconfigjson +1 +"));
}

TEST_P(ConfigWithKubectl, EveryNamespaceGetsADefaultServiceAccount) {
  ASSERT_TRUE(wait_until(15, [&] { return kn("get sa default -o name").output == "serviceaccount/default\n"; })) << kn("get sa").output;
  EXPECT_THAT(k("get serviceaccounts -n default").output, ContainsRegex("^NAME +SECRETS +AGE\ndefault +0 +"));
  EXPECT_EQ(kn("create serviceaccount robot").output, "serviceaccount/robot created\n");
  EXPECT_THAT(kn("get sa").output, ContainsRegex("\nrobot +0 +"));
  EXPECT_THAT(kn("describe sa robot").output, HasSubstr("Name:                robot"));
  // Deleted, it comes back.
  const auto uid = jsonpath("sa/default", "{.metadata.uid}");
  ASSERT_EQ(kn("delete sa default").exit_code, 0);
  ASSERT_TRUE(wait_until(15, [&] {
    const auto now = jsonpath("sa/default", "{.metadata.uid}");
    return !now.empty() && now != uid;
  })) << kn("get sa").output;
  EXPECT_THAT(kn("get cm,secret,sa -o name").output, HasSubstr("serviceaccount/robot"));
}

TEST_P(ConfigWithKubectl, PodVolumesAndMountsAreValidated) {
  const std::string pod = file("pod.yaml", R"(apiVersion: v1
kind: Pod
metadata: {name: bad-mounts}
spec:
  containers:
  - name: c
    image: busybox
    volumeMounts: [{name: nope, mountPath: /x}, {name: cfg, mountPath: /x, subPath: ../up}]
  volumes:
  - {name: cfg, configMap: {name: app, defaultMode: 1000}}
  - {name: cfg, hostPath: {path: /tmp, type: Weird}, emptyDir: {}}
)");
  const auto out = kn("create -f " + pod).output;
  EXPECT_THAT(out, HasSubstr("Pod \"bad-mounts\" is invalid: "));
  for (const char* expected :
       {"spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number between 0 and 0777 (octal), "
        "both inclusive",
        "spec.volumes[1].name: Duplicate value: \"cfg\"", "spec.volumes[1].emptyDir: Forbidden: may not specify more than 1 volume type",
        "spec.volumes[1].hostPath.type: Unsupported value: \"Weird\": supported values: \"\", \"BlockDevice\"",
        "spec.containers[0].volumeMounts[0].name: Not found: \"nope\"",
        "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/x\": must be unique",
        "spec.containers[0].volumeMounts[1].subPath: Invalid value: \"../up\": must not contain '..'"})
    EXPECT_THAT(out, HasSubstr(expected));
  EXPECT_THAT(kn("get pods -o name").output, Not(HasSubstr("bad-mounts")));
}

INSTANTIATE_TEST_SUITE_P(OldestAndNewestKubectl, ConfigWithKubectl, ::testing::Values("1.27", "1.33"),
                         [](const auto& info) { return "v" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
