#include "orchestrator/base/x509_requests.h"

#include <memory>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace switchyard {

namespace {

struct Free {
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
  void operator()(STACK_OF(X509_EXTENSION) * p) const { sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

Error ssl_error(std::string what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return Error{ErrorCode::Invalid, std::move(what)};
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return Error{ErrorCode::Invalid, fmt::format("{}: {}", what, buf)};
}

Ptr<BIO> mem(std::string_view text) { return Ptr<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void read_name(X509_NAME* name, CertificateRequestInfo& out) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (n < 0) continue;
    std::string value(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
    if (nid == NID_commonName && out.common_name.empty()) out.common_name = value;
    if (nid == NID_organizationName) out.organizations.push_back(value);
  }
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
  const unsigned char* b = ASN1_STRING_get0_data(ip);
  const int n = ASN1_STRING_length(ip);
  if (n == 4) return fmt::format("{}.{}.{}.{}", b[0], b[1], b[2], b[3]);
  std::string out;
  for (int i = 0; i + 1 < n; i += 2) out += fmt::format("{}{:x}", i ? ":" : "", (b[i] << 8) | b[i + 1]);
  return out;
}

std::string asn1_text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
}

Result<Ptr<X509>> read_cert(std::string_view pem) {
  auto bio = mem(pem);
  Ptr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return std::unexpected(ssl_error("parsing the certificate"));
  return cert;
}

}  // namespace

Result<CertificateRequestInfo> parse_certificate_request(std::string_view pem) {
  // As x509.ParseCSR behind upstream's validation: one PEM block of the right type first.
  const auto begin = pem.find("-----BEGIN ");
  if (begin == std::string_view::npos) return fail(ErrorCode::Invalid, "PEM block type must be CERTIFICATE REQUEST");
  if (!pem.substr(begin).starts_with("-----BEGIN CERTIFICATE REQUEST-----"))
    return fail(ErrorCode::Invalid, "PEM block type must be CERTIFICATE REQUEST");
  auto bio = mem(pem);
  Ptr<X509_REQ> req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return std::unexpected(ssl_error("x509: malformed certificate request"));
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key || X509_REQ_verify(req.get(), key) != 1) return std::unexpected(ssl_error("x509: ECDSA verification failure"));
  CertificateRequestInfo out;
  read_name(X509_REQ_get_subject_name(req.get()), out);
  Ptr<STACK_OF(X509_EXTENSION)> exts(X509_REQ_get_extensions(req.get()));
  if (exts) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts.get()); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
      Ptr<GENERAL_NAMES> names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
      if (!names) continue;
      for (int j = 0; j < sk_GENERAL_NAME_num(names.get()); ++j) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), j);
        if (g->type == GEN_DNS) out.dns_names.push_back(asn1_text(g->d.dNSName));
        if (g->type == GEN_EMAIL) out.email_addresses.push_back(asn1_text(g->d.rfc822Name));
        if (g->type == GEN_URI) out.uris.push_back(asn1_text(g->d.uniformResourceIdentifier));
        if (g->type == GEN_IPADD) out.ip_addresses.push_back(ip_text(g->d.iPAddress));
      }
    }
  }
  return out;
}

Result<KeyAndRequest> make_key_and_request(const std::string& common_name, const std::vector<std::string>& organizations) {
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return std::unexpected(ssl_error("generating an EC P-256 key"));
  Ptr<X509_REQ> req(X509_REQ_new());
  Ptr<X509_NAME> name(X509_NAME_new());
  if (!req || !name) return std::unexpected(ssl_error("allocating a request"));
  for (const auto& o : organizations)
    if (X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0) != 1)
      return std::unexpected(ssl_error("setting O=" + o));
  if (X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) !=
      1)
    return std::unexpected(ssl_error("setting CN=" + common_name));
  if (X509_REQ_set_subject_name(req.get(), name.get()) != 1 || X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    return std::unexpected(ssl_error("signing the request"));
  Ptr<BIO> key_out(BIO_new(BIO_s_mem())), req_out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_X509_REQ(req_out.get(), req.get()) != 1)
    return std::unexpected(ssl_error("encoding the key and request"));
  return KeyAndRequest{bio_text(key_out.get()), bio_text(req_out.get())};
}

Result<std::string> sign_client_certificate(std::string_view request_pem, std::string_view ca_cert_pem, std::string_view ca_key_pem,
                                            std::int64_t duration_seconds) {
  auto req_bio = mem(request_pem);
  Ptr<X509_REQ> req(PEM_read_bio_X509_REQ(req_bio.get(), nullptr, nullptr, nullptr));
  if (!req) return std::unexpected(ssl_error("parsing the certificate request"));
  auto ca = read_cert(ca_cert_pem);
  if (!ca) return std::unexpected(ca.error());
  auto key_bio = mem(ca_key_pem);
  Ptr<EVP_PKEY> ca_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca_key) return std::unexpected(ssl_error("parsing the CA key"));

  Ptr<X509> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return std::unexpected(ssl_error("allocating a certificate"));
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return std::unexpected(ssl_error("drawing a serial number"));
  serial_bytes[0] &= 0x7f;
  Ptr<BIGNUM> serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())))
    return std::unexpected(ssl_error("setting the serial number"));
  // As upstream's signer: backdated 5 minutes for clock skew, never past the CA's own expiry.
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) || !X509_gmtime_adj(X509_getm_notAfter(cert.get()), duration_seconds))
    return std::unexpected(ssl_error("setting the validity period"));
  if (X509_cmp_time(X509_get0_notAfter(ca->get()), nullptr) > 0 &&
      ASN1_TIME_compare(X509_get0_notAfter(cert.get()), X509_get0_notAfter(ca->get())) > 0)
    X509_set1_notAfter(cert.get(), X509_get0_notAfter(ca->get()));
  if (X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get())) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca->get())) != 1 ||
      X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req.get())) != 1)
    return std::unexpected(ssl_error("setting the subject, issuer and key"));
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca->get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:FALSE"}, std::pair{NID_key_usage, "critical,digitalSignature"},
                            std::pair{NID_ext_key_usage, "clientAuth"}, std::pair{NID_authority_key_identifier, "keyid:always"}}) {
    Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) return std::unexpected(ssl_error(fmt::format("adding {}", value)));
  }
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) return std::unexpected(ssl_error("signing the certificate"));
  Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(out.get(), cert.get()) != 1) return std::unexpected(ssl_error("encoding the certificate"));
  return bio_text(out.get());
}

Result<std::string> public_key_pin(std::string_view cert_pem) {
  auto cert = read_cert(cert_pem);
  if (!cert) return std::unexpected(cert.error());
  unsigned char* der = nullptr;
  const int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert->get()), &der);
  if (n <= 0) return std::unexpected(ssl_error("encoding the public key"));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<std::size_t>(n), digest);
  OPENSSL_free(der);
  std::string out = "sha256:";
  for (unsigned char c : digest) out += fmt::format("{:02x}", c);
  return out;
}

Result<CertificateRequestInfo> certificate_subject(std::string_view cert_pem) {
  auto cert = read_cert(cert_pem);
  if (!cert) return std::unexpected(cert.error());
  CertificateRequestInfo out;
  read_name(X509_get_subject_name(cert->get()), out);
  return out;
}

}  // namespace switchyard
