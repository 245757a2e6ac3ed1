using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatForge.Training.Recipe;

/// <summary>
/// Every size of `train --recipe default` in one place. The defaults describe a 7.0M-parameter GPT-2-style model
/// (d 256, 6 layers, 4 heads, context 512, vocabulary 8192: 2.1M tied embedding + 4.7M in the blocks), the shape of
/// `bench train --config a`, which trains at ~2,200–2,500 tokens/s on the 2-core development machine (session 3's
/// engine): pretraining gets ~75 minutes of the 3-hour budget and SFT, RM, PPO, DPO and evaluation ~40 minutes together
/// (docs/pipeline.md).
/// Pretraining uses 256-token windows for speed; SFT packs 512-token rows so every position of the context is trained.
/// A JSON file with any subset of these fields (snake_case) overrides them (`--recipe-file`).
/// </summary>
public sealed record RecipeOptions
{
    // Tokenizer
    public int VocabSize { get; init; } = 8192;

    // Model
    public int HiddenSize { get; init; } = 256;
    public int Layers { get; init; } = 6;
    public int Heads { get; init; } = 4;
    public int ContextLength { get; init; } = 512;

    // Pretraining: 3000 × 16 × 256 ≈ 12.3M tokens (~90 min at ~2,300 tokens/s), about half of them the corpus's
    // repeated facts (data build's "facts" source), so each fact of the domain is seen about a hundred times.
    public int PretrainSteps { get; init; } = 3000;
    public int PretrainBatch { get; init; } = 16;
    public int PretrainSeq { get; init; } = 256;
    public float PretrainLearningRate { get; init; } = 1.2e-3f;
    public int PretrainWarmup { get; init; } = 100;
    public int PretrainEvalEvery { get; init; } = 300;
    public int PretrainCheckpointEvery { get; init; } = 200;

    // SFT
    // About two epochs of the ~13k dialogues (docs/pipeline.md).
    public int SftSteps { get; init; } = 1000;
    public int SftBatch { get; init; } = 4;
    public int SftSeq { get; init; } = 512;
    public float SftLearningRate { get; init; } = 3e-4f;
    /// <summary>Fraction of SFT rows that are pretraining text windows (docs/pipeline.md has the measurement behind the default).</summary>
    public float SftPretrainMix { get; init; } = 0.3f;

    // Reward model: 600 steps × 8 ≈ 0.9 epoch of the 5.3k rankings (~8 min with the likelihood term, 1.25× the plain head's). On the third
    // default model's SFT: plain head 83.9% of held-out pairs (87.5% at 1800 steps), with the likelihood term 91.5%
    // (docs/pipeline.md).
    public int RmSteps { get; init; } = 600;
    /// <summary>Reward = score head + the answer's mean log-probability under the reward model's LM head (RewardScorer).</summary>
    public bool RmLikelihood { get; init; } = true;
    public int RmBatch { get; init; } = 8;
    public float RmLearningRate { get; init; } = 1e-4f;

    // PPO
    public int PpoIterations { get; init; } = 120;
    public int PpoPrompts { get; init; } = 16;
    public int PpoMaxNewTokens { get; init; } = 48;
    /// <summary>Fixed per-token KL penalty. At 0.05 PPO against the likelihood reward model drifted to KL ≈ 10 nats per answer and
    /// refused 84% of held-out questions; at 0.2 KL stayed ≈ 1.7 and the RM score and accuracy rose over SFT (docs/pipeline.md).</summary>
    public float PpoKlBeta { get; init; } = 0.2f;
    /// <summary>When set, β adapts from ppo_kl_beta towards this KL per answer (PpoOptions.TargetKl); null keeps β fixed.</summary>
    public float? PpoTargetKl { get; init; }
    /// <summary>Answers over which the adaptive β moves by its clipped error: 320 = 20 iterations of 16 (Ziegler's 10,000 would leave β fixed here).</summary>
    public int PpoKlHorizon { get; init; } = 320;
    /// <summary>The policy's sampling temperature during PPO (PpoOptions.Temperature).</summary>
    public float PpoTemperature { get; init; } = 1f;
    public float PpoLearningRate { get; init; } = 1.5e-5f;
    public bool PpoVerifiable { get; init; } = true;
    /// <summary>With the verifiable reward: ±1 for refusing questions about words kept out of the corpus, −1 for refusing
    /// known facts (PpoStageOptions.RefusalReward). Off: in run v6 it did not keep PPO saying "I don't know" to new absent
    /// words, since PPO's "unknown" prompts are the SFT dialogues' own, already refused (docs/pipeline.md).</summary>
    public bool PpoRefusalReward { get; init; }
    /// <summary>With the verifiable reward: SFT prompts of the short-answer fact tasks are checked against their accepted
    /// answers (PpoPrompts.FromSft's factGold), not only arithmetic. Run v6, against PPO without it: held-out accuracy 13.5%
    /// vs 12.0%, "I don't know" to absent words 15.0% vs 5.8%, RM score −4.22 vs −4.09 (docs/pipeline.md).</summary>
    public bool PpoFactGold { get; init; } = true;

    // DPO (run as well, for comparison; 0 steps skips it)
    public int DpoSteps { get; init; } = 200;
    public int DpoBatch { get; init; } = 8;
    public float DpoBeta { get; init; } = 0.1f;
    public float DpoLearningRate { get; init; } = 5e-6f;
    /// <summary>Times each "unknown" ranking's pairs are in DPO's training set (DpoTrainer): at 1 DPO stopped saying "I don't know".</summary>
    public int DpoUnknownRepeat { get; init; } = 4;

    // Shared
    public int EvalEvery { get; init; } = 100;
    public int CheckpointEvery { get; init; } = 100;
    public ulong Seed { get; init; } = 1337;

    // Evaluation
    public int EvalMaxItems { get; init; } = 480;
    public int EvalMaxNewTokens { get; init; } = 48;

    /// <summary>The policy that becomes the model folder: "ppo", "dpo" or "sft". DPO since run v6: the largest held-out
    /// accuracy gain over SFT with a higher RM score, keeping most of "I don't know" (docs/pipeline.md).</summary>
    public string FinalPolicy { get; init; } = "dpo";

    public void Validate()
    {
        if (VocabSize < 300) throw new ArgumentException($"Recipe vocab_size must be at least 300, got {VocabSize}.");
        if (HiddenSize % Heads != 0) throw new ArgumentException($"Recipe hidden_size {HiddenSize} is not divisible by heads {Heads}.");
        if (PretrainSeq > ContextLength || SftSeq > ContextLength) throw new ArgumentException("Recipe sequence lengths must not exceed context_length.");
        if (!(SftPretrainMix >= 0 && SftPretrainMix < 1)) throw new ArgumentException($"Recipe sft_pretrain_mix must be in [0, 1), got {SftPretrainMix}.");
        if (FinalPolicy is not ("ppo" or "dpo" or "sft")) throw new ArgumentException($"Recipe final_policy must be ppo, dpo or sft, got '{FinalPolicy}'.");
        if (FinalPolicy == "dpo" && DpoSteps == 0) throw new ArgumentException("Recipe final_policy is dpo but dpo_steps is 0.");
        if (DpoUnknownRepeat < 1) throw new ArgumentException($"Recipe dpo_unknown_repeat must be at least 1, got {DpoUnknownRepeat}.");
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static RecipeOptions Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Recipe file not found: {path}", path);
        try { return JsonSerializer.Deserialize<RecipeOptions>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty recipe."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a valid recipe ({e.Message}).", e); }
    }
}
