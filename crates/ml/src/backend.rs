//! Choosing the burn backend a run trains on: `--backend auto|ndarray|wgpu|cuda`.
//!
//! [`BackendChoice`] is what the user asked for; [`resolve`] checks it against what this build
//! was compiled with and what the machine has, and returns a [`Resolved`] backend that says
//! which one was picked and why. [`with_backend`] then runs generic code on it: the caller
//! writes one [`BackendFn`] (generic over `B: AutodiffBackend`) instead of a `match` per call
//! site.
//!
//! `auto` picks CUDA if it was compiled in and a device works, else wgpu if it was compiled in
//! and a hardware adapter works, else NdArray. A wgpu adapter that is a CPU software renderer
//! (Mesa's lavapipe) is skipped by `auto` (it trains some 40× slower than NdArray) but used when
//! asked for by name, which is how CI tests wgpu without a GPU.
//!
//! Probing never panics: cudarc panics when it cannot load `libcuda.so` or `libnvrtc.so`, and
//! cubecl-wgpu panics when there is no adapter, so both probes run under
//! [`std::panic::catch_unwind`] with the panic message silenced on this thread and turned into
//! the error's reason. Each probe runs at most once per process (a wgpu device can be set up
//! only once), and its outcome is remembered.

use std::fmt;
use std::str::FromStr;

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;

use crate::CpuBackend;

/// The backend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendChoice {
    /// The fastest available: CUDA, else wgpu on a hardware adapter, else NdArray.
    Auto,
    /// burn's NdArray backend on the CPU (always compiled in; bitwise reproducible).
    NdArray,
    /// burn's wgpu backend (cargo feature `wgpu`).
    Wgpu,
    /// burn's CUDA backend (cargo feature `cuda`).
    Cuda,
}

/// A concrete backend, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// burn's NdArray backend on the CPU.
    NdArray,
    /// burn's wgpu backend.
    Wgpu,
    /// burn's CUDA backend.
    Cuda,
}

impl BackendKind {
    /// Every backend, in `auto`'s order of preference from last to first.
    pub const ALL: [BackendKind; 3] = [BackendKind::NdArray, BackendKind::Wgpu, BackendKind::Cuda];

    /// The name on the command line: `ndarray`, `wgpu` or `cuda`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::NdArray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// Whether this build contains the backend.
    pub fn compiled_in(self) -> bool {
        match self {
            BackendKind::NdArray => true,
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The cargo feature that compiles the backend in (`None` for NdArray, which always is).
    pub fn cargo_feature(self) -> Option<&'static str> {
        match self {
            BackendKind::NdArray => None,
            BackendKind::Wgpu => Some("wgpu"),
            BackendKind::Cuda => Some("cuda"),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl BackendChoice {
    /// Every accepted name, in the order listed in errors and help texts.
    pub const NAMES: [&'static str; 4] = ["auto", "ndarray", "wgpu", "cuda"];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::NdArray => "ndarray",
            BackendChoice::Wgpu => "wgpu",
            BackendChoice::Cuda => "cuda",
        }
    }

    /// The backends compiled into this build, e.g. `["ndarray", "wgpu"]`.
    pub fn compiled() -> Vec<&'static str> {
        BackendKind::ALL
            .into_iter()
            .filter(|kind| kind.compiled_in())
            .map(BackendKind::name)
            .collect()
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendChoice {
    type Err = BackendError;

    fn from_str(name: &str) -> Result<BackendChoice, BackendError> {
        match name {
            "auto" => Ok(BackendChoice::Auto),
            "ndarray" => Ok(BackendChoice::NdArray),
            "wgpu" => Ok(BackendChoice::Wgpu),
            "cuda" => Ok(BackendChoice::Cuda),
            _ => Err(BackendError::Unknown {
                name: name.to_string(),
            }),
        }
    }
}

/// Why a backend cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// The name is not one of [`BackendChoice::NAMES`].
    Unknown {
        /// What was given.
        name: String,
    },
    /// The backend was asked for by name but this build does not contain it.
    NotCompiled {
        /// The backend.
        backend: BackendKind,
    },
    /// The backend is compiled in but the machine cannot run it.
    Unavailable {
        /// The backend.
        backend: BackendKind,
        /// What the probe found, and what to do about it.
        reason: String,
    },
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |names: &[&str]| {
            names
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            BackendError::Unknown { name } => write!(
                f,
                "unknown backend `{name}`: expected one of {} (compiled into this build: {})",
                quoted(&BackendChoice::NAMES),
                quoted(&BackendChoice::compiled())
            ),
            BackendError::NotCompiled { backend } => {
                write!(f, "backend `{backend}` is not compiled into this build")?;
                if let Some(feature) = backend.cargo_feature() {
                    write!(f, "; rebuild with `--features {feature}`")?;
                }
                write!(f, " (compiled in: {})", quoted(&BackendChoice::compiled()))
            }
            BackendError::Unavailable { backend, reason } => {
                write!(f, "backend `{backend}` cannot run here: {reason}")
            }
        }
    }
}

impl std::error::Error for BackendError {}

/// The device of a resolved backend; its variants exist only for the compiled-in backends, so
/// [`with_backend`] needs no unreachable arms.
#[derive(Debug, Clone)]
enum Picked {
    NdArray,
    #[cfg(feature = "wgpu")]
    Wgpu(burn::backend::wgpu::WgpuDevice),
    #[cfg(feature = "cuda")]
    Cuda(burn::backend::cuda::CudaDevice),
}

/// A backend that [`resolve`] checked: compiled in, and (for GPUs) a working device found.
#[derive(Debug, Clone)]
pub struct Resolved {
    picked: Picked,
    reason: String,
}

impl Resolved {
    /// The backend picked.
    pub fn kind(&self) -> BackendKind {
        match self.picked {
            Picked::NdArray => BackendKind::NdArray,
            #[cfg(feature = "wgpu")]
            Picked::Wgpu(_) => BackendKind::Wgpu,
            #[cfg(feature = "cuda")]
            Picked::Cuda(_) => BackendKind::Cuda,
        }
    }

    /// Why it was picked and on what device, e.g. ``auto: no CUDA device (…); no wgpu adapter
    /// (…); using `ndarray` ``.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The NdArray backend, which needs no probing.
    pub fn ndarray() -> Resolved {
        Resolved {
            picked: Picked::NdArray,
            reason: "`ndarray` (cpu)".to_string(),
        }
    }
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Checks `choice` against this build and this machine (see the module doc for `auto`).
///
/// A backend named explicitly must be compiled in ([`BackendError::NotCompiled`]) and work
/// ([`BackendError::Unavailable`]); `auto` never fails, it falls back to NdArray and says why.
pub fn resolve(choice: BackendChoice) -> Result<Resolved, BackendError> {
    match choice {
        BackendChoice::NdArray => Ok(Resolved::ndarray()),
        BackendChoice::Wgpu => resolve_wgpu(false),
        BackendChoice::Cuda => resolve_cuda(),
        BackendChoice::Auto => {
            let mut skipped = Vec::new();
            match resolve_cuda() {
                Ok(resolved) => return Ok(auto(resolved, &skipped)),
                Err(error) => skipped.push(skip_reason(&error)),
            }
            match resolve_wgpu(true) {
                Ok(resolved) => return Ok(auto(resolved, &skipped)),
                Err(error) => skipped.push(skip_reason(&error)),
            }
            Ok(auto(Resolved::ndarray(), &skipped))
        }
    }
}

/// `resolved`, with its reason prefixed by what `auto` skipped.
fn auto(resolved: Resolved, skipped: &[String]) -> Resolved {
    let mut reason = String::from("auto: ");
    for skip in skipped {
        reason.push_str(skip);
        reason.push_str("; ");
    }
    reason.push_str("using ");
    reason.push_str(&resolved.reason);
    Resolved { reason, ..resolved }
}

/// A short line for `auto`'s reason: why a backend was passed over.
fn skip_reason(error: &BackendError) -> String {
    match error {
        BackendError::NotCompiled { backend } => format!("`{backend}` not compiled in"),
        BackendError::Unavailable { reason, .. } => reason.clone(),
        BackendError::Unknown { name } => format!("unknown backend `{name}`"),
    }
}

/// Generic code to run on whichever backend [`resolve`] picked; see [`with_backend`].
///
/// ```
/// use burn::tensor::backend::AutodiffBackend;
/// use cpbuild_ml::backend::{BackendFn, Resolved, with_backend};
///
/// struct DeviceName;
///
/// impl BackendFn<String> for DeviceName {
///     fn call<B: AutodiffBackend>(self, device: B::Device) -> String {
///         format!("{device:?}")
///     }
/// }
///
/// assert_eq!(with_backend(&Resolved::ndarray(), DeviceName), "Cpu");
/// ```
pub trait BackendFn<R> {
    /// Runs on backend `B` (with autodiff; `B::InnerBackend` for inference) on `device`.
    fn call<B: AutodiffBackend>(self, device: B::Device) -> R;
}

/// Runs `f` on the resolved backend: `Autodiff<NdArray<f32>>`, `Autodiff<Wgpu>` or
/// `Autodiff<Cuda>`, with the device the probe found.
pub fn with_backend<R>(resolved: &Resolved, f: impl BackendFn<R>) -> R {
    match &resolved.picked {
        Picked::NdArray => f.call::<Autodiff<CpuBackend>>(Default::default()),
        #[cfg(feature = "wgpu")]
        Picked::Wgpu(device) => f.call::<Autodiff<crate::WgpuBackend>>(device.clone()),
        #[cfg(feature = "cuda")]
        Picked::Cuda(device) => f.call::<Autodiff<crate::CudaBackend>>(device.clone()),
    }
}

#[cfg(not(feature = "wgpu"))]
fn resolve_wgpu(_for_auto: bool) -> Result<Resolved, BackendError> {
    Err(BackendError::NotCompiled {
        backend: BackendKind::Wgpu,
    })
}

/// The default wgpu device, set up once (Vulkan on Linux); with `for_auto`, a CPU software
/// adapter counts as unavailable.
#[cfg(feature = "wgpu")]
fn resolve_wgpu(for_auto: bool) -> Result<Resolved, BackendError> {
    use std::sync::OnceLock;

    use burn::backend::wgpu::graphics::AutoGraphicsApi;
    use burn::backend::wgpu::{RuntimeOptions, WgpuDevice, init_setup};

    /// The adapter found, or why there is none.
    static PROBE: OnceLock<Result<(String, bool), String>> = OnceLock::new();

    let unavailable = |reason: String| BackendError::Unavailable {
        backend: BackendKind::Wgpu,
        reason,
    };
    let device = WgpuDevice::DefaultDevice;
    let probe = PROBE.get_or_init(|| {
        // cubecl-wgpu panics when no adapter or device can be had; the setup registers the
        // device's compute server, which may happen only once per process.
        catch_quietly(|| {
            let setup = init_setup::<AutoGraphicsApi>(&device, RuntimeOptions::default());
            let info = setup.adapter.get_info();
            let software = info.device_type == wgpu::DeviceType::Cpu;
            let description = format!(
                "`{}` ({:?}, {:?}{})",
                info.name,
                info.backend,
                info.device_type,
                if info.driver.is_empty() {
                    String::new()
                } else {
                    format!(", driver {}", info.driver)
                }
            );
            (description, software)
        })
    });
    match probe {
        Err(message) => Err(unavailable(format!(
            "no wgpu adapter ({}); install a Vulkan driver (without a GPU on Debian: \
             `mesa-vulkan-drivers`, Mesa's lavapipe)",
            message.trim()
        ))),
        Ok((description, true)) if for_auto => Err(unavailable(format!(
            "wgpu adapter {description} is a cpu software renderer, slower than `ndarray`"
        ))),
        Ok((description, _)) => Ok(Resolved {
            picked: Picked::Wgpu(device),
            reason: format!("`wgpu` on {description}"),
        }),
    }
}

#[cfg(not(feature = "cuda"))]
fn resolve_cuda() -> Result<Resolved, BackendError> {
    Err(BackendError::NotCompiled {
        backend: BackendKind::Cuda,
    })
}

/// CUDA device 0, after checking that the driver and NVRTC load and that a device exists.
#[cfg(feature = "cuda")]
fn resolve_cuda() -> Result<Resolved, BackendError> {
    use std::sync::OnceLock;

    use burn::backend::cuda::CudaDevice;
    use cudarc::driver::{result as driver, sys as driver_sys};

    /// The device found, or why there is none.
    static PROBE: OnceLock<Result<String, String>> = OnceLock::new();

    const LIBRARY_PATH_HINT: &str = "the directories holding the NVIDIA driver's `libcuda.so` \
        and the CUDA toolkit's `libnvrtc.so` (e.g. `/usr/local/cuda/lib64`) must be on \
        `LD_LIBRARY_PATH`, and no CUDA `stubs/` directory may come before them";

    let probe = PROBE.get_or_init(|| {
        // cudarc loads `libcuda.so` on first use and panics if it cannot.
        let init = catch_quietly(driver::init).map_err(|message| {
            format!(
                "cannot load the CUDA driver library ({}); {LIBRARY_PATH_HINT}",
                message.trim()
            )
        })?;
        match init {
            Err(error) if error.0 == driver_sys::CUresult::CUDA_ERROR_STUB_LIBRARY => {
                return Err(format!(
                    "`cuInit` found the CUDA toolkit's stub `libcuda.so` instead of the \
                     driver's ({error:?}); {LIBRARY_PATH_HINT}"
                ));
            }
            Err(error) if error.0 == driver_sys::CUresult::CUDA_ERROR_NO_DEVICE => {
                return Err(format!("no CUDA device ({error:?})"));
            }
            Err(error) => return Err(format!("`cuInit` failed: {error:?}")),
            Ok(()) => {}
        }
        let count = driver::device::get_count()
            .map_err(|error| format!("cannot count CUDA devices: {error:?}"))?;
        if count < 1 {
            return Err("no CUDA device (the driver reports 0)".to_string());
        }
        let device = driver::device::get(0)
            .map_err(|error| format!("cannot open CUDA device 0: {error:?}"))?;
        let name = driver::device::get_name(device)
            .map_err(|error| format!("cannot query CUDA device 0: {error:?}"))?;
        // cubecl compiles its kernels with NVRTC at run time; cudarc panics if it is missing.
        let (mut major, mut minor) = (0, 0);
        // SAFETY: `nvrtcVersion` only writes two ints through valid pointers.
        let nvrtc_version = || unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut major, &mut minor) };
        let version = catch_quietly(nvrtc_version).map_err(|message| {
            format!(
                "cannot load NVRTC, which compiles CUDA kernels at run time ({}); \
                 {LIBRARY_PATH_HINT}",
                message.trim()
            )
        })?;
        if version != cudarc::nvrtc::sys::nvrtcResult::NVRTC_SUCCESS {
            return Err(format!("`nvrtcVersion` failed: {version:?}"));
        }
        Ok(format!(
            "device 0 `{name}` of {count}, NVRTC {major}.{minor}"
        ))
    });
    match probe {
        Ok(description) => Ok(Resolved {
            picked: Picked::Cuda(CudaDevice { index: 0 }),
            reason: format!("`cuda` on {description}"),
        }),
        Err(reason) => Err(BackendError::Unavailable {
            backend: BackendKind::Cuda,
            reason: reason.clone(),
        }),
    }
}

/// Runs `f`, turning a panic into `Err(message)` without printing it. Other threads' panics
/// still reach the previous hook.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    use std::cell::Cell;
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::Arc;

    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }
    let previous = Arc::new(panic::take_hook());
    let delegate = Arc::clone(&previous);
    panic::set_hook(Box::new(move |info| {
        if !QUIET.get() {
            delegate(info);
        }
    }));
    QUIET.set(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.set(false);
    // Drop our hook (and its reference to `previous`) before restoring the previous one.
    drop(panic::take_hook());
    panic::set_hook(Box::new(move |info| previous(info)));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|message| message.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

/// The host processor's model name as Linux's `/proc/cpuinfo` gives it; `None` elsewhere. The
/// benchmarks print it beside their timings, which depend on it.
pub fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
}

#[cfg(test)]
mod tests {
    use burn::tensor::{ElementConversion, Tensor};

    use super::*;

    #[test]
    fn names_parse_and_unknown_names_list_the_choices() {
        for name in BackendChoice::NAMES {
            let choice: BackendChoice = name.parse().expect("a listed name");
            assert_eq!(choice.name(), name);
        }
        let error = "gpu".parse::<BackendChoice>().expect_err("not a backend");
        let message = error.to_string();
        assert!(
            message.starts_with(
                "unknown backend `gpu`: expected one of `auto`, `ndarray`, `wgpu`, `cuda` \
                 (compiled into this build: `ndarray`"
            ),
            "{message}"
        );
    }

    #[test]
    fn ndarray_always_resolves() {
        let resolved = resolve(BackendChoice::NdArray).expect("always compiled in");
        assert_eq!(resolved.kind(), BackendKind::NdArray);
        assert_eq!(resolved.to_string(), "`ndarray` (cpu)");
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn asking_for_wgpu_without_the_feature_names_the_feature() {
        let error = resolve(BackendChoice::Wgpu).expect_err("not compiled in");
        assert_eq!(
            error.to_string(),
            "backend `wgpu` is not compiled into this build; rebuild with `--features wgpu` \
             (compiled in: `ndarray`)"
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn asking_for_cuda_without_the_feature_names_the_feature() {
        let error = resolve(BackendChoice::Cuda).expect_err("not compiled in");
        assert!(
            error.to_string().starts_with(
                "backend `cuda` is not compiled into this build; rebuild with `--features cuda`"
            ),
            "{error}"
        );
    }

    #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
    #[test]
    fn auto_without_gpu_features_uses_ndarray_and_says_why() {
        let resolved = resolve(BackendChoice::Auto).expect("auto never fails");
        assert_eq!(resolved.kind(), BackendKind::NdArray);
        assert_eq!(
            resolved.reason(),
            "auto: `cuda` not compiled in; `wgpu` not compiled in; using `ndarray` (cpu)"
        );
    }

    /// Sums a small tensor on whatever backend it is given.
    struct SumOnDevice;

    impl BackendFn<f32> for SumOnDevice {
        fn call<B: AutodiffBackend>(self, device: B::Device) -> f32 {
            Tensor::<B, 1>::from_floats([1.0, 2.0, 3.5], &device)
                .sum()
                .into_scalar()
                .elem()
        }
    }

    #[test]
    fn with_backend_runs_generic_code_on_the_picked_backend() {
        assert_eq!(with_backend(&Resolved::ndarray(), SumOnDevice), 6.5);
    }
}
