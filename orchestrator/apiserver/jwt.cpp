#include "orchestrator/apiserver/jwt.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <fstream>

#include <fmt/format.h>

#include "orchestrator/apiserver/pki.h"

namespace switchyard::apiserver {

struct JwtKey {
  std::shared_ptr<EVP_PKEY> pkey;
  std::string alg;  // RS256 or ES256
  std::string kid;
};

namespace {

using Json = nlohmann::json;

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using EcSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

constexpr std::size_t kEs256Half = 32;

std::string base64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string s(in);
  for (char& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!std::isalnum(static_cast<unsigned char>(c)))
      return std::nullopt;
  }
  const std::size_t padding = (4 - s.size() % 4) % 4;
  if (padding == 3) return std::nullopt;
  s.append(padding, '=');
  std::string out(s.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                                static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

Error ssl_error(std::string_view what) {
  std::string detail;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    detail += detail.empty() ? buf : std::string("; ") + buf;
  }
  return Error{ErrorCode::Internal, fmt::format("{}: {}", what, detail.empty() ? "OpenSSL failed" : detail)};
}

Result<std::shared_ptr<JwtKey>> describe(EVP_PKEY* raw) {
  auto key = std::make_shared<JwtKey>();
  key->pkey = std::shared_ptr<EVP_PKEY>(raw, &EVP_PKEY_free);
  if (EVP_PKEY_base_id(raw) == EVP_PKEY_RSA) {
    key->alg = "RS256";
  } else if (EVP_PKEY_base_id(raw) == EVP_PKEY_EC && EVP_PKEY_get_bits(raw) == 256) {
    key->alg = "ES256";
  } else {
    return fail(ErrorCode::Invalid, "the key is neither RSA nor EC P-256");
  }
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(raw, &der);
  if (n <= 0) return fail(ssl_error("encoding the public key"));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<std::size_t>(n), digest);
  OPENSSL_free(der);
  key->kid = base64url(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  return key;
}

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ES256 signatures are r|s, 32 bytes each (RFC 7518 3.4); OpenSSL speaks DER.
std::optional<std::string> der_to_jose(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  std::string out(2 * kEs256Half, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), o, kEs256Half) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), o + kEs256Half, kEs256Half) < 0)
    return std::nullopt;
  return out;
}

std::optional<std::string> jose_to_der(std::string_view jose) {
  if (jose.size() != 2 * kEs256Half) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(jose.data());
  EcSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(in, kEs256Half, nullptr);
  BIGNUM* s = BN_bin2bn(in + kEs256Half, kEs256Half, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &der);
  if (n <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

bool verify_with(const JwtKey& key, std::string_view signed_part, std::string_view signature) {
  std::string sig(signature);
  if (key.alg == "ES256") {
    auto der = jose_to_der(signature);
    if (!der) return false;
    sig = std::move(*der);
  }
  MdCtx ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                   reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

Result<JwtSigner> JwtSigner::load(const std::filesystem::path& path) {
  const std::string pem = read_all(path);
  if (pem.empty()) return fail(ErrorCode::NotFound, fmt::format("{}: cannot read the service-account signing key", path.string()));
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!raw) return fail(with_context(ssl_error("no PEM private key"), path.string()));
  auto key = describe(raw);
  if (!key) return fail(with_context(key.error(), path.string()));
  JwtSigner signer;
  signer.key_ = std::move(*key);
  return signer;
}

Result<std::string> JwtSigner::sign(const Json& claims) const {
  const Json header = {{"alg", key_->alg}, {"kid", key_->kid}};
  const std::string signed_part = base64url(header.dump()) + "." + base64url(claims.dump());
  MdCtx ctx(EVP_MD_CTX_new());
  std::size_t n = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &n, reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) != 1)
    return fail(ssl_error("signing a token"));
  std::string sig(n, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &n,
                     reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) != 1)
    return fail(ssl_error("signing a token"));
  sig.resize(n);
  if (key_->alg == "ES256") {
    auto jose = der_to_jose(sig);
    if (!jose) return fail(ErrorCode::Internal, "signing a token: a malformed ECDSA signature");
    sig = std::move(*jose);
  }
  return signed_part + "." + base64url(sig);
}

Result<void> JwtVerifier::add_keys(const std::filesystem::path& path) {
  const std::string pem = read_all(path);
  if (pem.empty()) return fail(ErrorCode::NotFound, fmt::format("{}: cannot read the service-account key file", path.string()));
  // Each PEM block in turn: public keys, and private keys (their public half).
  std::size_t added = 0;
  for (std::size_t at = pem.find("-----BEGIN "); at != std::string::npos; at = pem.find("-----BEGIN ", at + 1)) {
    const auto end = pem.find("-----END ", at);
    if (end == std::string::npos) break;
    const auto block_end = pem.find('\n', end);
    const std::string block = pem.substr(at, block_end == std::string::npos ? std::string::npos : block_end - at + 1);
    if (block.find("CERTIFICATE") != std::string::npos) continue;
    Bio bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
    EVP_PKEY* raw = block.find("PRIVATE KEY") != std::string::npos ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                                                   : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (!raw) return fail(with_context(ssl_error("a PEM block is no key"), path.string()));
    auto key = describe(raw);
    if (!key) return fail(with_context(key.error(), path.string()));
    keys_.push_back(std::move(*key));
    ++added;
  }
  if (added == 0) return fail(ErrorCode::Invalid, fmt::format("{}: no public or private key in it", path.string()));
  return {};
}

bool looks_like_jwt(std::string_view token) {
  const auto first = token.find('.');
  if (first == std::string_view::npos) return false;
  const auto second = token.find('.', first + 1);
  return second != std::string_view::npos && token.find('.', second + 1) == std::string_view::npos && first > 0 && second > first + 1;
}

Result<Json> JwtVerifier::verify(std::string_view token) const {
  if (!looks_like_jwt(token)) return fail(ErrorCode::Unauthorized, "not a JWT");
  const auto first = token.find('.'), second = token.find('.', first + 1);
  auto header_text = base64url_decode(token.substr(0, first));
  auto claims_text = base64url_decode(token.substr(first + 1, second - first - 1));
  auto signature = base64url_decode(token.substr(second + 1));
  if (!header_text || !claims_text || !signature) return fail(ErrorCode::Unauthorized, "malformed base64url in the token");
  const Json header = Json::parse(*header_text, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string())
    return fail(ErrorCode::Unauthorized, "malformed token header");
  const std::string alg = header["alg"];
  const std::string kid = header.value("kid", Json("")).is_string() ? header.value("kid", "") : "";
  for (const auto& key : keys_) {
    // The algorithm is the key's, never the token's choice ("none", HS256 with the public key).
    if (key->alg != alg || (!kid.empty() && kid != key->kid)) continue;
    if (!verify_with(*key, token.substr(0, second), *signature)) continue;
    Json claims = Json::parse(*claims_text, nullptr, false);
    if (!claims.is_object()) return fail(ErrorCode::Unauthorized, "the token's claims are not a JSON object");
    return claims;
  }
  return fail(ErrorCode::Unauthorized, "no service-account key verifies the token's signature");
}

Result<void> ensure_service_account_key(const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) return check_trusted_path(path, true);
  EVP_PKEY* raw = EVP_RSA_gen(2048);
  if (!raw) return fail(ssl_error("generating the service-account RSA key"));
  std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>> key(raw);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return fail(ssl_error("encoding the service-account key"));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return write_file_atomically(path, std::string_view(data, static_cast<std::size_t>(n)), 0600);
}

}  // namespace switchyard::apiserver
