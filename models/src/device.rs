//! Which device the models run on: CUDA when libtorch sees a GPU, the CPU otherwise.
//! `GENVIDEO_DEVICE=cpu|cuda|cuda:N` overrides the choice (e.g. to keep a busy GPU free).

use crate::error::ModelError;
use tch::Device;

/// Environment variable that overrides [`select_device`].
pub const DEVICE_ENV: &str = "GENVIDEO_DEVICE";

/// The device to run models on, honouring [`DEVICE_ENV`].
///
/// Asking for CUDA where libtorch has none is an error rather than a silent fallback: a user who
/// set the variable wants to know that their GPU is not being used.
pub fn select_device() -> Result<Device, ModelError> {
    let request = match std::env::var(DEVICE_ENV) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(v)) => {
            return Err(ModelError::InvalidConfig(format!("{DEVICE_ENV}={v:?} is not valid UTF-8")))
        }
    };
    parse_device(request.as_deref(), tch::Cuda::device_count())
}

/// `request` is the override (None or empty: automatic); `cuda_devices` how many GPUs libtorch sees.
fn parse_device(request: Option<&str>, cuda_devices: i64) -> Result<Device, ModelError> {
    let request = request.map(str::trim).filter(|s| !s.is_empty());
    let Some(request) = request else {
        return Ok(if cuda_devices > 0 { Device::Cuda(0) } else { Device::Cpu });
    };
    let lower = request.to_ascii_lowercase();
    let index = match lower.as_str() {
        "cpu" => return Ok(Device::Cpu),
        "cuda" | "gpu" => 0,
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => i,
            _ => {
                return Err(ModelError::InvalidConfig(format!(
                    "{DEVICE_ENV}={request:?}: expected cpu, cuda or cuda:N"
                )))
            }
        },
    };
    if (index as i64) < cuda_devices {
        Ok(Device::Cuda(index))
    } else if cuda_devices == 0 {
        Err(ModelError::InvalidConfig(format!(
            "{DEVICE_ENV}={request:?} but libtorch sees no CUDA device (CPU-only build or no driver)"
        )))
    } else {
        Err(ModelError::InvalidConfig(format!(
            "{DEVICE_ENV}={request:?} but libtorch sees only {cuda_devices} CUDA device(s)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_prefers_cuda() {
        assert_eq!(parse_device(None, 0).unwrap(), Device::Cpu);
        assert_eq!(parse_device(Some(""), 2).unwrap(), Device::Cuda(0));
    }

    #[test]
    fn explicit_choices() {
        assert_eq!(parse_device(Some("cpu"), 1).unwrap(), Device::Cpu);
        assert_eq!(parse_device(Some(" CUDA "), 1).unwrap(), Device::Cuda(0));
        assert_eq!(parse_device(Some("cuda:1"), 2).unwrap(), Device::Cuda(1));
    }

    #[test]
    fn impossible_choices_are_errors() {
        for (req, n) in [("cuda", 0), ("cuda:2", 2), ("tpu", 1), ("cuda:x", 1)] {
            let err = parse_device(Some(req), n).unwrap_err();
            assert!(matches!(err, ModelError::InvalidConfig(_)), "{req}: {err}");
            assert!(err.to_string().contains(DEVICE_ENV), "{err}");
        }
    }
}
