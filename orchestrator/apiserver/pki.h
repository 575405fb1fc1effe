// First-start credentials of `switchyard apiserver --data-dir DIR`: a CA, a serving certificate
// signed by it and an admin bearer token, created once and reused on later starts.
//
//   DIR/pki/ca.crt          self-signed CA, EC P-256, 10 years, CN switchyard-ca     0644
//   DIR/pki/ca.key                                                                  0600
//   DIR/pki/apiserver.crt   serving certificate, EC P-256, 1 year, signed by the CA  0644
//   DIR/pki/apiserver.key                                                           0600
//   DIR/admin.token         64 hex digits (32 random bytes) and a newline           0600
//
// The serving certificate is regenerated (with the same CA) when it no longer covers every
// subjectAltName the options ask for (the listen address changed), expires within 30 days, was
// not signed by the CA or does not match its key. A CA that is present but unreadable, or a
// ca.crt without its ca.key, is an error: replacing a CA silently would break every client
// that trusts it.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>
#include "orchestrator/base/error.h"

namespace switchyard::apiserver {

struct PkiOptions {
  std::filesystem::path data_dir;
  // The address the API server listens on: an IP (v4 or v6, without brackets) or a host name.
  // An unspecified address (0.0.0.0, ::) is not put in the certificate; clients reach it through
  // 127.0.0.1 / ::1, which are always there.
  std::string listen_host = "127.0.0.1";
  // The first IP of the service CIDR: the `kubernetes` Service's ClusterIP.
  std::string first_service_ip = "10.96.0.1";
  // Further names or IPs the serving certificate must cover.
  std::vector<std::string> extra_sans;
};

struct Credentials {
  std::filesystem::path ca_cert_file, ca_key_file, serving_cert_file, serving_key_file, token_file;
  std::string ca_cert_pem;  // what clients put in certificate-authority-data
  std::string admin_token;
  bool created_ca = false;            // this call made a new CA
  bool created_serving_cert = false;  // this call made a new serving certificate
  bool created_token = false;
  // Why the serving certificate was (re)made: "none present", "does not cover IP 10.0.0.5", ...
  std::string serving_cert_reason;
};

// The subjectAltNames the serving certificate gets for `options`, IPs first, in a stable order,
// without duplicates: listen IP, 127.0.0.1, ::1, first service IP, extra IPs, then localhost,
// kubernetes, kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local,
// and further names (a host-name listen_host, extra names).
struct SubjectAltNames {
  std::vector<std::string> ips, dns_names;
};
SubjectAltNames serving_sans(const PkiOptions& options);

// A leaf certificate beside the API server's: the kubelet's serving certificate, or the API
// server's client certificate towards kubelets (kube-apiserver's --kubelet-client-certificate).
struct LeafCertificate {
  std::string common_name;
  bool client = false;   // clientAuth usage; otherwise serverAuth for `sans`
  SubjectAltNames sans;  // serving only
  // The issuing CA; both empty: the certificate signs itself (a standalone kubelet's, as
  // upstream's kubelet makes one when it is given none).
  std::filesystem::path ca_cert_file, ca_key_file;
  std::filesystem::path cert_file, key_file;  // written 0644 / 0600
};
// Reuses cert_file/key_file when they are signed by the CA, match, cover the SANs and do not
// expire within 30 days; makes new ones otherwise. Returns whether it made new ones.
Result<bool> ensure_leaf_certificate(const LeafCertificate& leaf);

// Creates what is missing under options.data_dir (and the directories), reuses what is there.
// The error names the file and the cause.
Result<Credentials> ensure_credentials(const PkiOptions& options);

// What the server trusts in its data directory must not be plantable: `path` must be no symbolic
// link, owned by this user, not writable by group or others, and (`secret`) not readable by them.
Result<> check_trusted_path(const std::filesystem::path& path, bool secret);
// Creates `dir` with mode 0700 (its parents as usual), or checks an existing one as above.
Result<> ensure_private_dir(const std::filesystem::path& dir);
// The bearer token in `path`, checked as a secret; a new random one (0600) when there is none.
Result<std::string> ensure_token(const std::filesystem::path& path, bool& created);
// 32 random bytes (OpenSSL's generator) in hex: a new bearer token.
Result<std::string> random_token();

// Writes `contents` to `path` through a temporary file in the same directory (fsync, rename), with
// `mode` regardless of the umask.
Result<> write_file_atomically(const std::filesystem::path& path, std::string_view contents, unsigned mode);

}  // namespace switchyard::apiserver
