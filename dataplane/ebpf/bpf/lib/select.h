/* Backend choice for one frontend: affinity first, then Maglev or a slot (random for connect,
 * a hash of the socket for sendmsg so that one UDP socket keeps one backend). */
#ifndef SWITCHYARD_BPF_SELECT_H
#define SWITCHYARD_BPF_SELECT_H

#include <stdbool.h>

#include "external.h"
#include "maps.h"

/* Load-time knob (rodata): act only for the network namespaces listed in lb_scope_v1, so that
 * several agents on one host leave each other's traffic alone. */
const volatile __u8 scope_by_netns = 0;

static __always_inline bool lb_in_scope(void* ctx) {
  if (!scope_by_netns) return true;
  __u64 cookie = bpf_get_netns_cookie(ctx);
  if (bpf_map_lookup_elem(&lb_scope_v1, &cookie)) return true;
  lb_count(LB_METRIC_OUT_OF_SCOPE);
  return false;
}

/* A 64-bit finaliser (murmur3's) so that consecutive socket cookies spread over slots. */
static __always_inline __u32 lb_mix(__u64 x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (__u32)x;
}

static __always_inline __u32 lb_affinity_lookup(void* ctx, const struct lb_service_value* svc, struct lb_affinity_key* akey) {
  akey->netns_cookie = bpf_get_netns_cookie(ctx);
  akey->service_id = svc->service_id;
  akey->pad = 0;
  struct lb_affinity_value* a = bpf_map_lookup_elem(&lb_affinity_v1, akey);
  if (!a) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (now - a->last_used_ns > (__u64)svc->affinity_timeout_s * 1000000000ULL) return 0;
  return a->backend_id;
}

static __always_inline void lb_affinity_store(const struct lb_affinity_key* akey, __u32 backend_id) {
  struct lb_affinity_value v = {.last_used_ns = bpf_ktime_get_ns(), .backend_id = backend_id};
  bpf_map_update_elem(&lb_affinity_v1, akey, &v, BPF_ANY);
}

/* The slot (1..count) or Maglev entry for a hash; 0 if the service has no table. */
static __always_inline __u32 lb_maglev_backend(const struct lb_service_value* svc, __u32 hash) {
  __u32 id = svc->service_id;
  struct lb_maglev_table* t = bpf_map_lookup_elem(&lb_maglev_v1, &id);
  if (!t) return 0;
  __u32 index = hash % LB_MAGLEV_TABLE_SIZE;
  /* The verifier does not bound a modulo: hide index from clang so the check stays. */
  asm volatile("" : "+r"(index));
  if (index >= LB_MAGLEV_TABLE_SIZE) return 0;
  return t->backend_ids[index];
}

static __always_inline __u16 lb_slot(const struct lb_service_value* svc, __u32 hash) { return (__u16)(hash % svc->count) + 1; }

/* The backend id for a connection to frontend `key` (`svc`, in the service maps, or in the
 * external ones when `external`): the client's affinity while its backend exists, else the
 * Maglev entry or the slot for `hash`; 0 when the slot is missing. */
static __always_inline __u32 lb_choose(void* ctx, __u8 family, union lb_service_key* key, const struct lb_service_value* svc, __u32 hash,
                                       bool external) {
  struct lb_affinity_key akey = {};
  __u32 id = 0;
  if (svc->flags & LB_SERVICE_FLAG_AFFINITY) {
    id = lb_affinity_lookup(ctx, svc, &akey);
    if (id && !lb_backend_present(family, id)) id = 0;
    if (id) lb_count(LB_METRIC_AFFINITY_HIT);
  }
  if (!id) {
    if (svc->flags & LB_SERVICE_FLAG_MAGLEV) {
      id = lb_maglev_backend(svc, hash);
    } else {
      lb_service_key_set_slot(key, family, lb_slot(svc, hash));
      const struct lb_service_value* s = external ? ext_lookup(family, key) : lb_service_lookup(family, key);
      lb_service_key_set_slot(key, family, 0);
      if (s) id = s->backend_id;
    }
  }
  if (id && (svc->flags & LB_SERVICE_FLAG_AFFINITY)) lb_affinity_store(&akey, id);
  return id;
}

#endif
