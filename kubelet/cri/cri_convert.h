// Conversions between the plain structs of cri_types.h and the generated CRI messages. Internal
// to the CRI client: only .cpp files of kubelet/cri include the generated headers.
#pragma once

#include "kubelet/cri/api.pb.h"
#include "kubelet/cri/cri_types.h"

namespace switchyard::kubelet::cri {

void to_proto(const PodSandboxConfig& in, runtime::v1::PodSandboxConfig& out);
void to_proto(const ContainerConfig& in, runtime::v1::ContainerConfig& out);
void to_proto(const PodSandboxFilter& in, runtime::v1::PodSandboxFilter& out);
void to_proto(const ContainerFilter& in, runtime::v1::ContainerFilter& out);

VersionInfo from_proto(const runtime::v1::VersionResponse& in);
RuntimeStatus from_proto(const runtime::v1::RuntimeStatus& in);
PodSandbox from_proto(const runtime::v1::PodSandbox& in);
PodSandboxStatus from_proto(const runtime::v1::PodSandboxStatus& in);
Container from_proto(const runtime::v1::Container& in);
ContainerStatus from_proto(const runtime::v1::ContainerStatus& in);
Image from_proto(const runtime::v1::Image& in);

}  // namespace switchyard::kubelet::cri
