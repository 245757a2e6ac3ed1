namespace ChatForge.Engine.Tests;

/// <summary>Tests that force a SIMD level (Simd.Force) change global state, so they run one at a time.</summary>
[CollectionDefinition("Simd", DisableParallelization = true)]
public sealed class SimdCollection;
