// core/v1 PersistentVolume and PersistentVolumeClaim, storage.k8s.io/v1 StorageClass. Their bodies
// are kept as JSON text (as the policy kinds'): the binder, the provisioner, the scheduler and the
// kubelet read the few fields they need; storage_validation.cpp checks them as
// pkg/apis/core/validation and pkg/apis/storage/validation do. Included by types.h after ObjectMeta.
#pragma once

namespace switchyard::api {

// The finalizers the storage-object-in-use protection admission adds and its controller removes.
inline constexpr const char* kPvcProtectionFinalizer = "kubernetes.io/pvc-protection";
inline constexpr const char* kPvProtectionFinalizer = "kubernetes.io/pv-protection";
// storageclass.kubernetes.io/is-default-class: "true" marks the class DefaultStorageClass admission picks.
inline constexpr const char* kIsDefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class";
// Set by the scheduler on a WaitForFirstConsumer claim: the node its provisioner must use.
inline constexpr const char* kSelectedNodeAnnotation = "volume.kubernetes.io/selected-node";

struct PersistentVolume {
  static constexpr const char* kKind = "PersistentVolume";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  Passthrough body;  // spec, status
  bool operator==(const PersistentVolume&) const = default;
};

struct PersistentVolumeClaim {
  static constexpr const char* kKind = "PersistentVolumeClaim";
  static constexpr const char* kApiVersion = "v1";
  static constexpr bool kNamespaced = true;
  ObjectMeta metadata;
  Passthrough body;  // spec, status
  bool operator==(const PersistentVolumeClaim&) const = default;
};

struct StorageClass {
  static constexpr const char* kKind = "StorageClass";
  static constexpr const char* kApiVersion = "storage.k8s.io/v1";
  static constexpr bool kNamespaced = false;
  ObjectMeta metadata;
  Passthrough body;  // provisioner, parameters, reclaimPolicy, mountOptions, allowVolumeExpansion, volumeBindingMode, allowedTopologies
  bool operator==(const StorageClass&) const = default;
};

}  // namespace switchyard::api
