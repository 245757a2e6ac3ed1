using ChatForge.Engine.Model;

namespace ChatForge.Engine.Tests.Inference;

/// <summary>Small random models and a plain float64 forward pass to check the inference engine against.</summary>
internal static class TinyModels
{
    public static ModelConfig Gpt2 => ModelConfig.Gpt2Style(vocab: 64, dModel: 32, layers: 2, heads: 4, context: 48);

    /// <summary>Llama-style with grouped-query attention (4 query heads share 2 kv heads) plus a Qwen2-style QKV bias.</summary>
    public static ModelConfig Llama => ModelConfig.LlamaStyle(vocab: 64, dModel: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48, context: 48) with { QkvBias = true };

    /// <summary>Random weights large enough that logits spread over a few units (greedy choices are not near-ties).</summary>
    public static ParameterBuffer RandomParameters(ModelConfig config, int seed)
    {
        var parameters = new ParameterBuffer(new ParameterLayout(config));
        var rng = new Random(seed);
        foreach (var t in parameters.Layout.Tensors)
        {
            var span = parameters[t];
            bool norm = t.Name.Contains("norm");
            bool bias = t.Name.EndsWith(".bias");
            double scale = t.Name.StartsWith("embed") ? 0.5 : bias ? 0.1 : norm ? 0.1 : 1.0 / Math.Sqrt(t.Shape[^1]);
            for (int i = 0; i < span.Length; i++)
            {
                double g = Gaussian(rng) * scale;
                span[i] = (float)(norm && !bias ? 1 + g : g);
            }
        }
        return parameters;
    }

    static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>Logits [T, V] of every position of one sequence, computed with float64 plain loops.</summary>
    public static double[][] ReferenceLogits(ParameterBuffer p, IReadOnlyList<int> tokens)
    {
        var layout = p.Layout;
        var c = layout.Config;
        int T = tokens.Count, d = c.HiddenSize, hd = c.HeadDim, hq = c.NumHeads, hkv = c.NumKvHeads, ff = c.IntermediateSize;
        var x = new double[T][];
        for (int t = 0; t < T; t++)
        {
            x[t] = new double[d];
            for (int i = 0; i < d; i++)
                x[t][i] = p[layout.TokenEmbedding][tokens[t] * d + i] + (layout.PositionEmbedding is { } pe ? p[pe][t * d + i] : 0);
        }
        foreach (var l in layout.Layers)
        {
            var qkv = new double[T][];
            for (int t = 0; t < T; t++)
            {
                qkv[t] = Linear(Norm(p, x[t], l.AttnNormWeight, l.AttnNormBias), p, l.QkvWeight, l.QkvBias);
                if (c.Position == PositionKind.Rope)
                    for (int head = 0; head < hq + hkv; head++) RotateHalf(qkv[t], head * hd, hd, t, c.RopeTheta);
            }
            for (int t = 0; t < T; t++)
            {
                var att = new double[hq * hd];
                for (int h = 0; h < hq; h++)
                {
                    int kvHead = h / (hq / hkv);
                    var scores = new double[t + 1];
                    double max = double.NegativeInfinity;
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += qkv[t][h * hd + i] * qkv[s][(hq + kvHead) * hd + i];
                        scores[s] = dot / Math.Sqrt(hd);
                        max = Math.Max(max, scores[s]);
                    }
                    double z = 0;
                    for (int s = 0; s <= t; s++) z += scores[s] = Math.Exp(scores[s] - max);
                    for (int i = 0; i < hd; i++)
                    {
                        double acc = 0;
                        for (int s = 0; s <= t; s++) acc += scores[s] * qkv[s][(hq + hkv + kvHead) * hd + i];
                        att[h * hd + i] = acc / z;
                    }
                }
                var o = Linear(att, p, l.OutWeight, l.OutBias);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
            }
            for (int t = 0; t < T; t++)
            {
                var up = Linear(Norm(p, x[t], l.MlpNormWeight, l.MlpNormBias), p, l.UpWeight, l.UpBias);
                var act = new double[ff];
                for (int i = 0; i < ff; i++)
                    act[i] = c.Mlp == MlpKind.SwiGlu ? up[i] / (1 + Math.Exp(-up[i])) * up[ff + i]
                        : 0.5 * up[i] * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (up[i] + 0.044715 * up[i] * up[i] * up[i])));
                var down = Linear(act, p, l.DownWeight, l.DownBias);
                for (int i = 0; i < d; i++) x[t][i] += down[i];
            }
        }
        var logits = new double[T][];
        for (int t = 0; t < T; t++) logits[t] = Linear(Norm(p, x[t], layout.FinalNormWeight, layout.FinalNormBias), p, layout.LmHead, null);
        return logits;
    }

    static double[] Norm(ParameterBuffer p, double[] x, TensorSlot weight, TensorSlot? bias)
    {
        var c = p.Layout.Config;
        int d = x.Length;
        double mean = 0, variance = 0;
        if (c.Norm == NormKind.LayerNorm) { foreach (double v in x) mean += v; mean /= d; }
        foreach (double v in x) variance += (v - mean) * (v - mean);
        double rstd = 1 / Math.Sqrt(variance / d + c.NormEps);
        var y = new double[d];
        for (int i = 0; i < d; i++) y[i] = (x[i] - mean) * rstd * p[weight][i] + (bias is null ? 0 : p[bias][i]);
        return y;
    }

    static double[] Linear(double[] x, ParameterBuffer p, TensorSlot weight, TensorSlot? bias)
    {
        int outDim = weight.Shape[0], inDim = weight.Shape[1];
        var w = p[weight];
        var y = new double[outDim];
        for (int o = 0; o < outDim; o++)
        {
            double acc = bias is null ? 0 : p[bias][o];
            for (int i = 0; i < inDim; i++) acc += x[i] * w[o * inDim + i];
            y[o] = acc;
        }
        return y;
    }

    /// <summary>Hugging Face rotate_half: pairs (i, i + hd/2) rotate by position · θ^(−2i/hd).</summary>
    static void RotateHalf(double[] v, int offset, int hd, int position, double theta)
    {
        int half = hd / 2;
        for (int i = 0; i < half; i++)
        {
            double angle = position * Math.Pow(theta, -2.0 * i / hd);
            double a = v[offset + i], b = v[offset + i + half];
            v[offset + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
            v[offset + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
        }
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, double[] b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }
}
