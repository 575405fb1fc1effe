#include "orchestrator/apiserver/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

namespace switchyard::apiserver {
namespace {

namespace fs = std::filesystem;

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;

constexpr long kCaDays = 3650;
constexpr long kServingDays = 365;
constexpr long kRenewBeforeDays = 30;
constexpr const char* kCaCommonName = "switchyard-ca";
constexpr const char* kServingCommonName = "switchyard-apiserver";

// The queued OpenSSL errors as one line (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::unexpected<Error> ssl_failure(std::string_view what) {
  return fail(ErrorCode::Internal, fmt::format("{}: {}", what, openssl_errors()));
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_unspecified_ip(const std::string& s) {
  unsigned char buf[16]{};
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return std::all_of(buf, buf + 4, [](unsigned char c) { return c == 0; });
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) return std::all_of(buf, buf + 16, [](unsigned char c) { return c == 0; });
  return false;
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::Internal, fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<PkeyPtr> generate_key() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ssl_failure("generating an EC P-256 key");
  return key;
}

Result<std::string> key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return ssl_failure("encoding a private key as PEM");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<std::string> cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return ssl_failure("encoding a certificate as PEM");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

Result<> check_trusted_path(const fs::path& path, bool secret) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail(ErrorCode::NotFound, fmt::format("{}: {}", path.string(), std::strerror(errno)));
  if (S_ISLNK(st.st_mode)) return fail(ErrorCode::Forbidden, fmt::format("{}: is a symbolic link; refusing to trust it", path.string()));
  if (st.st_uid != ::geteuid())
    return fail(ErrorCode::Forbidden,
                fmt::format("{}: owned by uid {}, not by this user (uid {}); refusing to trust it", path.string(), st.st_uid, ::geteuid()));
  if (st.st_mode & 022)
    return fail(ErrorCode::Forbidden, fmt::format("{}: writable by group or others (mode {:o}); refusing to trust it: chmod go-w {}",
                                                  path.string(), st.st_mode & 07777, path.string()));
  if (secret && (st.st_mode & 077))
    return fail(ErrorCode::Forbidden,
                fmt::format("{}: readable by group or others (mode {:o}); chmod 600 {}", path.string(), st.st_mode & 07777, path.string()));
  return {};
}

Result<> ensure_private_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (dir.has_parent_path()) fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return fail(ErrorCode::Internal, fmt::format("cannot create directory {}: {}", dir.string(), std::strerror(errno)));
  }
  if (!fs::is_directory(dir, ec)) return fail(ErrorCode::Invalid, fmt::format("{}: not a directory", dir.string()));
  return check_trusted_path(dir, false);
}

namespace {

Result<PkeyPtr> load_key(const fs::path& path) {
  if (auto ok = check_trusted_path(path, true); !ok) return fail(ok.error());
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return ssl_failure(fmt::format("parsing the private key in {}", path.string()));
  return key;
}

Result<X509Ptr> load_cert(const fs::path& path) {
  if (auto ok = check_trusted_path(path, false); !ok) return fail(ok.error());
  auto text = read_file(path);
  if (!text) return std::unexpected(text.error());
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return ssl_failure(fmt::format("parsing the certificate in {}", path.string()));
  return cert;
}

// Adds one extension given in openssl.cnf syntax ("critical,CA:TRUE").
Result<> add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return ssl_failure(fmt::format("adding the {} extension \"{}\"", OBJ_nid2sn(nid), value));
  return {};
}

// A certificate for `key` with subject CN=`common_name`, signed by `issuer_key` (and issued by
// `issuer`, or self-issued when null), valid from an hour ago for `days`.
Result<X509Ptr> build_cert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key, long days,
                           const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return ssl_failure("allocating a certificate");

  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return ssl_failure("drawing a serial number");
  serial_bytes[0] &= 0x7f;  // positive
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) return ssl_failure("setting the serial number");

  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) || !X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600))
    return ssl_failure("setting the validity period");

  NamePtr name(X509_NAME_new());
  if (!name ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1)
    return ssl_failure(fmt::format("setting the subject CN={}", common_name));
  X509_NAME* issuer_name = issuer ? X509_get_subject_name(issuer) : name.get();
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) return ssl_failure("setting the issuer");
  if (X509_set_pubkey(cert.get(), key) != 1) return ssl_failure("setting the public key");

  X509* issuer_for_ext = issuer ? issuer : cert.get();
  for (const auto& [nid, value] : extensions)
    if (auto r = add_extension(cert.get(), issuer_for_ext, nid, value); !r) return std::unexpected(r.error());

  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return ssl_failure(fmt::format("signing the certificate CN={}", common_name));
  return cert;
}

Result<X509Ptr> build_ca(EVP_PKEY* key) {
  return build_cert(key, kCaCommonName, nullptr, key, kCaDays,
                    {{NID_basic_constraints, "critical,CA:TRUE"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                     {NID_subject_key_identifier, "hash"}});
}

std::string san_extension_value(const SubjectAltNames& sans) {
  std::string v;
  for (const auto& ip : sans.ips) v += (v.empty() ? "" : ",") + ("IP:" + ip);
  for (const auto& dns : sans.dns_names) v += (v.empty() ? "" : ",") + ("DNS:" + dns);
  return v;
}

Result<X509Ptr> build_serving(EVP_PKEY* key, X509* ca, EVP_PKEY* ca_key, const SubjectAltNames& sans) {
  return build_cert(key, kServingCommonName, ca, ca_key, kServingDays,
                    {{NID_basic_constraints, "critical,CA:FALSE"},
                     {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                     {NID_ext_key_usage, "serverAuth"},
                     {NID_subject_key_identifier, "hash"},
                     {NID_authority_key_identifier, "keyid:always"},
                     {NID_subject_alt_name, san_extension_value(sans)}});
}

// Why an existing serving certificate cannot be kept, or empty if it can.
std::string serving_cert_problem(X509* cert, EVP_PKEY* key, X509* ca, const SubjectAltNames& sans) {
  EVP_PKEY* ca_pub = X509_get0_pubkey(ca);
  if (!ca_pub || X509_verify(cert, ca_pub) != 1) {
    ERR_clear_error();
    return "not signed by the CA";
  }
  if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    return "does not match apiserver.key";
  }
  std::time_t renew_at = std::time(nullptr) + kRenewBeforeDays * 24 * 3600;
  if (X509_cmp_time(X509_get0_notAfter(cert), &renew_at) <= 0) return "expires within 30 days";
  for (const auto& ip : sans.ips)
    if (X509_check_ip_asc(cert, ip.c_str(), 0) != 1) return fmt::format("does not cover IP {}", ip);
  for (const auto& name : sans.dns_names)
    if (X509_check_host(cert, name.c_str(), name.size(), X509_CHECK_FLAG_NO_WILDCARDS, nullptr) != 1)
      return fmt::format("does not cover DNS name {}", name);
  return {};
}

}  // namespace

Result<std::string> ensure_token(const fs::path& path, bool& created) {
  std::error_code ec;
  if (fs::exists(path, ec) || fs::is_symlink(path, ec)) {
    if (auto ok = check_trusted_path(path, true); !ok) return fail(ok.error());
    auto text = read_file(path);
    if (!text) return std::unexpected(text.error());
    std::string token = *text;
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
    if (token.empty() || token.find_first_of(" \t\r\n") != std::string::npos)
      return fail(ErrorCode::Internal, fmt::format("{}: not a bearer token (empty or with white space inside)", path.string()));
    return token;
  }
  auto token = random_token();
  if (!token) return std::unexpected(token.error());
  if (auto w = write_file_atomically(path, *token + "\n", 0600); !w) return std::unexpected(w.error());
  created = true;
  return token;
}

Result<std::string> random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return ssl_failure("drawing a bearer token");
  std::string token;
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  return token;
}

SubjectAltNames serving_sans(const PkiOptions& o) {
  SubjectAltNames sans;
  const bool listen_is_ip = is_ip(o.listen_host);
  if (listen_is_ip && !is_unspecified_ip(o.listen_host)) add_unique(sans.ips, o.listen_host);
  add_unique(sans.ips, "127.0.0.1");
  add_unique(sans.ips, "::1");
  add_unique(sans.ips, o.first_service_ip);
  for (const auto& s : o.extra_sans)
    if (is_ip(s)) add_unique(sans.ips, s);
  for (const char* n : {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
    add_unique(sans.dns_names, n);
  if (!listen_is_ip) add_unique(sans.dns_names, o.listen_host);
  for (const auto& s : o.extra_sans)
    if (!is_ip(s)) add_unique(sans.dns_names, s);
  return sans;
}

Result<> write_file_atomically(const fs::path& path, std::string_view contents, unsigned mode) {
  const fs::path tmp = path.string() + ".tmp";
  // A leftover (or planted) temporary file is removed, never followed or reused.
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
    return fail(ErrorCode::Internal, fmt::format("cannot remove {}: {}", tmp.string(), std::strerror(errno)));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return fail(ErrorCode::Internal, fmt::format("cannot create {}: {}", tmp.string(), std::strerror(errno)));
  auto failed = [&](std::string_view what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(ErrorCode::Internal, fmt::format("cannot {} {}: {}", what, tmp.string(), std::strerror(err)));
  };
  if (::fchmod(fd, mode) != 0) return failed("chmod");
  for (std::size_t off = 0; off < contents.size();) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed("write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return failed("fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(ErrorCode::Internal, fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), std::strerror(err)));
  }
  return {};
}

Result<Credentials> ensure_credentials(const PkiOptions& options) {
  Credentials c;
  const fs::path pki = options.data_dir / "pki";
  c.ca_cert_file = pki / "ca.crt";
  c.ca_key_file = pki / "ca.key";
  c.serving_cert_file = pki / "apiserver.crt";
  c.serving_key_file = pki / "apiserver.key";
  c.token_file = options.data_dir / "admin.token";

  if (auto r = ensure_private_dir(options.data_dir); !r) return std::unexpected(r.error());
  if (auto r = ensure_private_dir(pki); !r) return std::unexpected(r.error());

  // The CA: reuse, or create when neither file exists.
  std::error_code ec;
  const bool have_ca_cert = fs::exists(c.ca_cert_file, ec), have_ca_key = fs::exists(c.ca_key_file, ec);
  X509Ptr ca;
  PkeyPtr ca_key;
  if (have_ca_cert || have_ca_key) {
    if (!have_ca_cert || !have_ca_key)
      return fail(ErrorCode::Internal, fmt::format("{} exists without {}; restore it or remove both to create a new CA",
                                                   (have_ca_cert ? c.ca_cert_file : c.ca_key_file).string(),
                                                   (have_ca_cert ? c.ca_key_file : c.ca_cert_file).string()));
    auto cert = load_cert(c.ca_cert_file);
    if (!cert) return std::unexpected(cert.error());
    auto key = load_key(c.ca_key_file);
    if (!key) return std::unexpected(key.error());
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      ERR_clear_error();
      return fail(ErrorCode::Internal, fmt::format("{} does not match {}", c.ca_key_file.string(), c.ca_cert_file.string()));
    }
    ca = std::move(*cert);
    ca_key = std::move(*key);
  } else {
    auto key = generate_key();
    if (!key) return std::unexpected(key.error());
    auto cert = build_ca(key->get());
    if (!cert) return std::unexpected(cert.error());
    auto kp = key_pem(key->get());
    if (!kp) return std::unexpected(kp.error());
    auto cp = cert_pem(cert->get());
    if (!cp) return std::unexpected(cp.error());
    // Key first: a crash in between leaves a key without a certificate, which the next start
    // reports instead of pairing a certificate with a key nobody has.
    if (auto w = write_file_atomically(c.ca_key_file, *kp, 0600); !w) return std::unexpected(w.error());
    if (auto w = write_file_atomically(c.ca_cert_file, *cp, 0644); !w) return std::unexpected(w.error());
    ca = std::move(*cert);
    ca_key = std::move(*key);
    c.created_ca = true;
  }
  auto ca_text = cert_pem(ca.get());
  if (!ca_text) return std::unexpected(ca_text.error());
  c.ca_cert_pem = *ca_text;

  // The serving certificate: keep it only if it is still right for these options.
  const SubjectAltNames sans = serving_sans(options);
  std::string problem;
  if (c.created_ca) {
    problem = "new CA";
  } else if (!fs::exists(c.serving_cert_file, ec) || !fs::exists(c.serving_key_file, ec)) {
    problem = "none present";
  } else {
    auto cert = load_cert(c.serving_cert_file);
    auto key = load_key(c.serving_key_file);
    if (!cert)
      problem = cert.error().message;
    else if (!key)
      problem = key.error().message;
    else
      problem = serving_cert_problem(cert->get(), key->get(), ca.get(), sans);
  }
  if (!problem.empty()) {
    c.serving_cert_reason = problem;
    auto key = generate_key();
    if (!key) return std::unexpected(key.error());
    auto cert = build_serving(key->get(), ca.get(), ca_key.get(), sans);
    if (!cert) return std::unexpected(cert.error());
    auto kp = key_pem(key->get());
    if (!kp) return std::unexpected(kp.error());
    auto cp = cert_pem(cert->get());
    if (!cp) return std::unexpected(cp.error());
    if (auto w = write_file_atomically(c.serving_key_file, *kp, 0600); !w) return std::unexpected(w.error());
    if (auto w = write_file_atomically(c.serving_cert_file, *cp, 0644); !w) return std::unexpected(w.error());
    c.created_serving_cert = true;
  }

  auto token = ensure_token(c.token_file, c.created_token);
  if (!token) return std::unexpected(token.error());
  c.admin_token = std::move(*token);
  return c;
}

Result<bool> ensure_leaf_certificate(const LeafCertificate& leaf) {
  const bool self_signed = leaf.ca_cert_file.empty();
  X509Ptr ca;
  PkeyPtr ca_key;
  if (!self_signed) {
    auto cert = load_cert(leaf.ca_cert_file);
    if (!cert) return std::unexpected(cert.error());
    auto key = load_key(leaf.ca_key_file);
    if (!key) return std::unexpected(key.error());
    ca = std::move(*cert);
    ca_key = std::move(*key);
  }
  std::error_code ec;
  if (fs::exists(leaf.cert_file, ec) && fs::exists(leaf.key_file, ec)) {
    auto cert = load_cert(leaf.cert_file);
    auto key = load_key(leaf.key_file);
    if (cert && key && serving_cert_problem(cert->get(), key->get(), self_signed ? cert->get() : ca.get(), leaf.sans).empty()) return false;
  }
  auto key = generate_key();
  if (!key) return std::unexpected(key.error());
  std::vector<std::pair<int, std::string>> extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                         {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                                                         {NID_ext_key_usage, leaf.client ? "clientAuth" : "serverAuth"},
                                                         {NID_subject_key_identifier, "hash"}};
  if (!self_signed) extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  if (!leaf.client && !(leaf.sans.ips.empty() && leaf.sans.dns_names.empty()))
    extensions.emplace_back(NID_subject_alt_name, san_extension_value(leaf.sans));
  auto cert = build_cert(key->get(), leaf.common_name.c_str(), self_signed ? nullptr : ca.get(), self_signed ? key->get() : ca_key.get(),
                         kServingDays, extensions);
  if (!cert) return std::unexpected(cert.error());
  auto kp = key_pem(key->get());
  if (!kp) return std::unexpected(kp.error());
  auto cp = cert_pem(cert->get());
  if (!cp) return std::unexpected(cp.error());
  fs::create_directories(leaf.cert_file.parent_path(), ec);
  if (auto w = write_file_atomically(leaf.key_file, *kp, 0600); !w) return std::unexpected(w.error());
  if (auto w = write_file_atomically(leaf.cert_file, *cp, 0644); !w) return std::unexpected(w.error());
  return true;
}

}  // namespace switchyard::apiserver
