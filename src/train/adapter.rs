//! The GGUF LoRA adapter llama.cpp loads (`llama_adapter_lora_init`, llama-adapter.cpp):
//! `general.type = "adapter"`, `general.architecture` the base's, `adapter.type = "lora"`,
//! `adapter.lora.alpha`, and per adapted weight `NAME.lora_a` (ggml [in, rank], candle
//! [rank, in]) and `NAME.lora_b` (ggml [rank, out], candle [out, rank]), both f32. llama.cpp
//! adds `alpha / rank · B·(A·x)` to that weight's product. The base's fingerprint is stored
//! too (`promptlab.base_fingerprint`), so an adapter is refused on another base.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

use super::TrainError;
use super::model::Model;
use super::weights::ARCHITECTURE;

pub const BASE_FINGERPRINT_KEY: &str = "promptlab.base_fingerprint";

/// The adapter's bytes: metadata, then each pair's `lora_a` and `lora_b`.
pub fn to_gguf(model: &Model, alpha: f64, base_fingerprint: &str) -> Result<Vec<u8>, TrainError> {
    let mut tensors = Vec::new();
    for (name, pair) in model.lora_pairs() {
        let q = |t: &Tensor| QTensor::quantize(&t.to_dtype(DType::F32)?, GgmlDType::F32);
        tensors.push((format!("{name}.lora_a"), q(pair.a.as_tensor())?));
        tensors.push((format!("{name}.lora_b"), q(pair.b.as_tensor())?));
    }
    let meta = [
        ("general.type", Value::String("adapter".into())),
        ("general.architecture", Value::String(ARCHITECTURE.into())),
        ("adapter.type", Value::String("lora".into())),
        ("adapter.lora.alpha", Value::F32(alpha as f32)),
        (BASE_FINGERPRINT_KEY, Value::String(base_fingerprint.into())),
    ];
    let meta: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (*k, v)).collect();
    let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &meta, &refs)?;
    Ok(out.into_inner())
}

/// Writes the adapter atomically (a reader never sees half a file).
pub fn write(
    path: &Path,
    model: &Model,
    alpha: f64,
    base_fingerprint: &str,
) -> Result<u64, TrainError> {
    let bytes = to_gguf(model, alpha, base_fingerprint)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    crate::store::atomic::write_atomic(path, &bytes).map_err(|e| TrainError::io(path, e))?;
    Ok(bytes.len() as u64)
}

/// An adapter read back: alpha, the base it was trained on, and its pairs by weight name.
pub struct Adapter {
    pub alpha: f64,
    pub base_fingerprint: Option<String>,
    /// weight name -> (A [rank, in], B [out, rank])
    pub pairs: HashMap<String, (Tensor, Tensor)>,
}

/// Reads an adapter file (ours or any GGUF LoRA adapter of a Gemma 3 base).
pub fn read(path: &Path) -> Result<Adapter, TrainError> {
    let mut file = std::fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
    let content = gguf_file::Content::read(&mut file)
        .map_err(|e| TrainError::Model(format!("{}: not a GGUF: {e}", path.display())))?;
    let text = |k: &str| {
        content
            .metadata
            .get(k)
            .and_then(|v| v.to_string().ok())
            .cloned()
    };
    if text("general.type").as_deref() != Some("adapter")
        || text("adapter.type").as_deref() != Some("lora")
    {
        return Err(TrainError::Model(format!(
            "{} is not a LoRA adapter",
            path.display()
        )));
    }
    let alpha = content
        .metadata
        .get("adapter.lora.alpha")
        .and_then(|v| v.to_f32().ok())
        .map_or(0.0, f64::from);
    let mut pairs = HashMap::new();
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let Some(base) = name.strip_suffix(".lora_a") else {
            continue;
        };
        let load = |n: &str, file: &mut std::fs::File| -> Result<Tensor, TrainError> {
            Ok(content
                .tensor(file, n, &Device::Cpu)?
                .dequantize(&Device::Cpu)?)
        };
        let a = load(name, &mut file)?;
        let b = load(&format!("{base}.lora_b"), &mut file)?;
        pairs.insert(base.to_string(), (a, b));
    }
    Ok(Adapter {
        alpha,
        base_fingerprint: text(BASE_FINGERPRINT_KEY),
        pairs,
    })
}
