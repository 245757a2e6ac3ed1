using System.Numerics.Tensors;
using ChatForge.Engine.Checkpoints;
using ChatForge.Engine.Inference;
using ChatForge.Engine.Kernels;
using ChatForge.Engine.Model;
using ChatForge.Training.Alignment;

namespace ChatForge.Training.Ppo;

/// <summary>
/// PPO as in InstructGPT: the actor starts from the SFT model, a frozen copy is the reference, a critic (a
/// Transformer with a scalar head, initialised from the reward model) estimates values. Each iteration:
/// sample one answer per prompt with the engine's batched KV-cache generation; score it; reward per token
/// = −β·log(π/π_ref), plus the (whitened) score at the last token; GAE(γ, λ); then several epochs of
/// clipped-surrogate updates for the actor and clipped value updates for the critic on mini-batches.
/// The policy is the distribution the rollouts are sampled from, softmax(logits / T): log-probs, ratios and the
/// KL penalty all use the same temperature, so sampling below T = 1 stays on-policy.
/// </summary>
public sealed class PpoTrainer
{
    readonly Transformer _actor, _reference, _critic;
    readonly IRewardFunction _reward;
    readonly IReadOnlyCollection<int> _stopTokens;
    readonly int _padId;
    readonly PpoOptions _options;
    readonly ParameterBuffer _actorM, _actorV, _criticM, _criticV;
    readonly AdaptiveKlController? _klController;
    Random _shuffle;
    long _actorStep, _criticStep;
    int _iteration;

    public float Beta => _klController?.Beta ?? _options.KlBeta;
    public Transformer Actor => _actor;
    public Transformer Critic => _critic;
    public int Iteration => _iteration;
    public PpoOptions Options => _options;
    public OptimizerState ActorOptimizer => new(_actorM, _actorV);
    public OptimizerState CriticOptimizer => new(_criticM, _criticV);
    public (long Actor, long Critic) OptimizerSteps => (_actorStep, _criticStep);

    /// <summary>Puts back what a checkpoint saved (see PpoStage): the iteration, both AdamW moment sets and steps, and β.</summary>
    public void Restore(int iteration, long actorStep, long criticStep, float beta, OptimizerState actor, OptimizerState critic)
    {
        _iteration = iteration; _actorStep = actorStep; _criticStep = criticStep;
        actor.M.Data.CopyTo(_actorM.Data); actor.V.Data.CopyTo(_actorV.Data);
        critic.M.Data.CopyTo(_criticM.Data); critic.V.Data.CopyTo(_criticV.Data);
        _klController?.Restore(beta);
    }

    public PpoTrainer(Transformer actor, Transformer reference, Transformer critic, IRewardFunction reward,
        IReadOnlyList<int> stopTokens, PpoOptions options)
    {
        options.Validate();
        if (critic.Layout.Score is null) throw new ArgumentException("The critic needs a config with score_head = true.", nameof(critic));
        if (actor.Config with { ScoreHead = false, ScoreLikelihood = false } != reference.Config with { ScoreHead = false, ScoreLikelihood = false })
            throw new ArgumentException("The actor and the reference must have the same configuration.", nameof(reference));
        _actor = actor; _reference = reference; _critic = critic; _reward = reward; _options = options;
        _stopTokens = stopTokens.ToArray();
        _padId = stopTokens[0];
        _actorM = new ParameterBuffer(actor.Layout); _actorV = new ParameterBuffer(actor.Layout);
        _criticM = new ParameterBuffer(critic.Layout); _criticV = new ParameterBuffer(critic.Layout);
        if (options.TargetKl is { } target) _klController = new AdaptiveKlController(options.KlBeta, target, options.KlHorizon);
        _shuffle = new Random(unchecked((int)options.Seed));
    }

    /// <summary>One rollout batch (one answer per prompt) and the PPO epochs over it.</summary>
    public (PpoIterationStats Stats, IReadOnlyList<Rollout> Rollouts) Iterate(IReadOnlyList<int[]> prompts)
    {
        _iteration++;
        // Mini-batch order depends only on (seed, iteration), so a resumed run shuffles exactly as an unbroken one.
        _shuffle = new Random(unchecked((int)(_options.Seed * 0x9E3779B9UL) ^ _iteration * 7919));
        var rollouts = Sample(prompts);
        float entropy = ScoreAndShape(rollouts);

        float policyLoss = 0, valueLoss = 0, clipFraction = 0;
        int updates = 0;
        for (int epoch = 0; epoch < _options.Epochs; epoch++)
        {
            var order = Enumerable.Range(0, rollouts.Count).OrderBy(_ => _shuffle.Next()).ToList();
            for (int start = 0; start < order.Count; start += _options.MiniBatch)
            {
                var mini = order.Skip(start).Take(_options.MiniBatch).Select(i => rollouts[i]).ToList();
                var (pl, cf) = ActorUpdate(mini);
                valueLoss += CriticUpdate(mini);
                policyLoss += pl; clipFraction += cf; updates++;
            }
        }

        float meanKl = rollouts.Average(r => Enumerable.Range(0, r.AnswerLength).Sum(t => KlEstimators.K1(r.LogProbs[t], r.ReferenceLogProbs[t])));
        _klController?.Update(meanKl, rollouts.Count);
        var stats = new PpoIterationStats
        {
            Iteration = _iteration,
            MeanScore = rollouts.Average(r => r.Score),
            MeanKl = meanKl,
            Entropy = entropy,
            ClipFraction = clipFraction / updates,
            PolicyLoss = policyLoss / updates,
            ValueLoss = valueLoss / updates,
            MeanAnswerLength = (float)rollouts.Average(r => r.AnswerLength),
            Beta = Beta,
        };
        return (stats, rollouts);
    }

    List<Rollout> Sample(IReadOnlyList<int[]> prompts)
    {
        var sampling = new SamplingOptions { Temperature = _options.Temperature, Seed = _options.Seed * 1_000_003UL + (ulong)_iteration };
        // F32 inference weights read the actor's live parameter buffer: no copy, always the current policy.
        var policy = new InferenceModel(_actor.Parameters, WeightFormat.F32);
        var generated = Generator.GenerateBatch(policy, prompts.Select(p => (IReadOnlyList<int>)p).ToList(), _options.MaxNewTokens, sampling, _stopTokens);
        var rollouts = new List<Rollout>(prompts.Count);
        for (int i = 0; i < prompts.Count; i++)
        {
            var answer = generated[i].Tokens.ToList();
            // The closing token is an action too: the policy must learn when to stop.
            if (generated[i].Finish == FinishReason.Stop) answer.Add(_padId);
            if (answer.Count == 0) answer.Add(_padId);
            rollouts.Add(new Rollout { PromptIndex = i, Tokens = [.. prompts[i], .. answer], PromptLength = prompts[i].Length, Finish = generated[i].Finish });
        }
        return rollouts;
    }

    /// <summary>Log-probs, values, scores, shaped rewards and GAE for every rollout; returns the mean entropy.</summary>
    float ScoreAndShape(List<Rollout> rollouts)
    {
        var batch = Batch(rollouts, out var targets);
        int rows = batch.Rows * batch.T;
        var logProbs = new float[rows];
        var entropy = new float[rows];
        PolicyLogProbs(_actor, batch, targets, logProbs, entropy);
        var referenceLogProbs = new float[rows];
        PolicyLogProbs(_reference, batch, targets, referenceLogProbs, default);
        var values = Values(batch);

        double entropySum = 0;
        int answerTokens = 0;
        for (int r = 0; r < rollouts.Count; r++)
        {
            var ro = rollouts[r];
            ro.LogProbs = AnswerSlice(logProbs, batch, r, ro);
            ro.ReferenceLogProbs = AnswerSlice(referenceLogProbs, batch, r, ro);
            ro.Values = AnswerSlice(values, batch, r, ro);
            foreach (float e in AnswerSlice(entropy, batch, r, ro)) entropySum += e;
            answerTokens += ro.AnswerLength;
        }

        var scores = _reward.Score(rollouts);
        for (int r = 0; r < rollouts.Count; r++) rollouts[r].Score = scores[r];
        var shaped = (float[])scores.Clone();
        if (_options.WhitenRewards) Whitening.Whiten(shaped);

        var allAdvantages = new List<float>();
        for (int r = 0; r < rollouts.Count; r++)
        {
            var ro = rollouts[r];
            int n = ro.AnswerLength;
            ro.Rewards = new float[n];
            for (int t = 0; t < n; t++) ro.Rewards[t] = -Beta * KlEstimators.K1(ro.LogProbs[t], ro.ReferenceLogProbs[t]);
            ro.Rewards[n - 1] += shaped[r];
            ro.Advantages = new float[n];
            ro.Returns = new float[n];
            Gae.Compute(ro.Rewards, ro.Values, _options.Gamma, _options.Lambda, ro.Advantages, ro.Returns);
            allAdvantages.AddRange(ro.Advantages);
        }
        // Whiten advantages over the whole batch (not per answer), then write them back.
        var whitened = allAdvantages.ToArray();
        Whitening.Whiten(whitened);
        int k = 0;
        foreach (var ro in rollouts)
            for (int t = 0; t < ro.AnswerLength; t++) ro.Advantages[t] = whitened[k++];
        return answerTokens > 0 ? (float)(entropySum / answerTokens) : 0f;
    }

    (float Loss, float ClipFraction) ActorUpdate(List<Rollout> mini)
    {
        var batch = Batch(mini, out var targets);
        int rows = batch.Rows * batch.T, d = _actor.Config.HiddenSize, vocab = _actor.Config.VocabSize;
        var logProbs = new float[rows];
        // One forward serves both the log-probs the loss needs and the backward (the LM head is run twice, the blocks once).
        _actor.ZeroGrad();
        var hidden = Tempered(_actor.ForwardHidden(batch.Tokens, batch.Rows, batch.T));
        var lmHead = _actor.Parameters[_actor.Layout.LmHead];
        LmHeadLoss.Forward(hidden, lmHead, targets, logProbs, default, rows, d, vocab);

        var current = mini.SelectMany((r, row) => AnswerSlice(logProbs, batch, row, r)).ToArray();
        var old = mini.SelectMany(r => r.LogProbs).ToArray();
        var advantages = mini.SelectMany(r => r.Advantages).ToArray();
        var dLogProbs = new float[current.Length];
        var stats = PpoLoss.Policy(current, old, advantages, _options.ClipEpsilon, dLogProbs);

        // LanguageModelLoss minimises Σ w·(−log p), so w = −dL/dlog p applies PPO's gradient exactly.
        var rowWeights = new float[rows];
        int k = 0;
        for (int r = 0; r < mini.Count; r++)
            for (int t = 0; t < mini[r].AnswerLength; t++)
                rowWeights[r * batch.T + mini[r].PromptLength + t - 1] = -dLogProbs[k++];
        var dHidden = new float[rows * d];
        LmHeadLoss.ForwardBackward(hidden, lmHead, targets, rowWeights, new float[rows], dHidden, _actor.Grads[_actor.Layout.LmHead], rows, d, vocab);
        // logits = (h / T)·Wᵀ, so dL/dh = dL/d(h / T) / T (dW above already saw h / T).
        if (_options.Temperature != 1f) TensorPrimitives.Multiply(dHidden, 1f / _options.Temperature, dHidden);
        _actor.BackwardHidden(dHidden);
        Apply(_actor, _actorM, _actorV, ref _actorStep, _options.ActorLearningRate);
        return (stats.Loss, stats.ClipFraction);
    }

    float CriticUpdate(List<Rollout> mini)
    {
        var batch = Batch(mini, out _);
        int d = _critic.Config.HiddenSize;
        var hidden = _critic.ForwardHidden(batch.Tokens, batch.Rows, batch.T);
        var w = _critic.Parameters[_critic.Layout.Score!];

        var rowsOf = new List<int>();
        foreach (var (r, ro) in mini.Select((ro, r) => (r, ro)))
            for (int t = 0; t < ro.AnswerLength; t++) rowsOf.Add(r * batch.T + ro.PromptLength + t - 1);
        var values = new float[rowsOf.Count];
        for (int i = 0; i < values.Length; i++) values[i] = TensorPrimitives.Dot(hidden.Slice(rowsOf[i] * d, d), w);
        var oldValues = mini.SelectMany(r => r.Values).ToArray();
        var returns = mini.SelectMany(r => r.Returns).ToArray();
        var dValues = new float[values.Length];
        float loss = PpoLoss.Value(values, oldValues, returns, _options.ValueClipEpsilon, dValues);

        _critic.ZeroGrad();
        var dHidden = new float[batch.Rows * batch.T * d];
        var dW = _critic.Grads[_critic.Layout.Score!];
        for (int i = 0; i < rowsOf.Count; i++)
        {
            var h = hidden.Slice(rowsOf[i] * d, d);
            TensorPrimitives.MultiplyAdd(w, dValues[i], dHidden.AsSpan(rowsOf[i] * d, d), dHidden.AsSpan(rowsOf[i] * d, d));
            TensorPrimitives.MultiplyAdd(h, dValues[i], dW, dW);
        }
        _critic.BackwardHidden(dHidden);
        Apply(_critic, _criticM, _criticV, ref _criticStep, _options.CriticLearningRate);
        return loss;
    }

    void Apply(Transformer model, ParameterBuffer m, ParameterBuffer v, ref long step, float lr)
    {
        float norm = GradClip.ClipByGlobalNorm(model.Grads.Data, _options.GradClip);
        if (!float.IsFinite(norm)) throw new InvalidOperationException($"PPO diverged at iteration {_iteration}: gradient norm {norm}. Lower the learning rate or β.");
        AdamW.Step(model.Parameters, model.Grads, m, v, new AdamWOptions { WeightDecay = 0 }, ++step, lr);
    }

    /// <summary>
    /// log π(target) per row under the policy the rollouts sample from, softmax(logits / T): logits / T = (h / T)·Wᵀ,
    /// so the final hidden states are scaled instead of the never-materialised logits. The same T for actor and
    /// reference makes the KL penalty one between the two sampling distributions.
    /// </summary>
    void PolicyLogProbs(Transformer model, SequenceBatch batch, int[] targets, Span<float> logProbs, Span<float> entropy)
    {
        var hidden = Tempered(model.ForwardHidden(batch.Tokens, batch.Rows, batch.T));
        LmHeadLoss.Forward(hidden, model.Parameters[model.Layout.LmHead], targets, logProbs, entropy, batch.Rows * batch.T, model.Config.HiddenSize, model.Config.VocabSize);
    }

    /// <summary>h / T as a new array (the model's own buffer is left for its backward); h itself when T = 1.</summary>
    ReadOnlySpan<float> Tempered(ReadOnlySpan<float> hidden)
    {
        if (_options.Temperature == 1f) return hidden;
        var scaled = new float[hidden.Length];
        TensorPrimitives.Multiply(hidden, 1f / _options.Temperature, scaled);
        return scaled;
    }

    /// <summary>Critic values V(state before each answer token), for every row of the batch.</summary>
    float[] Values(SequenceBatch batch)
    {
        int d = _critic.Config.HiddenSize, rows = batch.Rows * batch.T;
        var hidden = _critic.ForwardHidden(batch.Tokens, batch.Rows, batch.T);
        var w = _critic.Parameters[_critic.Layout.Score!];
        var values = new float[rows];
        for (int i = 0; i < rows; i++) values[i] = TensorPrimitives.Dot(hidden.Slice(i * d, d), w);
        return values;
    }

    SequenceBatch Batch(List<Rollout> rollouts, out int[] targets)
    {
        var batch = new SequenceBatch(rollouts.Select(r => r.Tokens).ToList(), _padId, _actor.Config.ContextLength);
        targets = batch.Targets((r, j) => j >= rollouts[r].PromptLength);
        return batch;
    }

    /// <summary>Per-row values for the answer tokens of a rollout: the row before each answer token predicts it.</summary>
    static float[] AnswerSlice(ReadOnlySpan<float> perRow, SequenceBatch batch, int row, Rollout r) =>
        perRow.Slice(row * batch.T + r.PromptLength - 1, r.AnswerLength).ToArray();
}
