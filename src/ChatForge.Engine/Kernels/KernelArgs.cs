namespace ChatForge.Engine.Kernels;

/// <summary>
/// Argument checks shared by the kernels: every message names the kernel, the argument, the shape it needs and the
/// length it got. Messages are only built on failure, so a passing check allocates nothing.
/// </summary>
internal static class KernelArgs
{
    /// <summary>A 1-D argument of shape [dim=size].</summary>
    public static void Length(string kernel, string name, int actual, string dim, long size)
    {
        if (actual != size) Fail(kernel, name, actual, size, $"[{dim}={size}]");
    }

    /// <summary>A 2-D argument of shape [dim0=size0, dim1=size1].</summary>
    public static void Length(string kernel, string name, int actual, string dim0, long size0, string dim1, long size1)
    {
        if (actual != size0 * size1) Fail(kernel, name, actual, size0 * size1, $"[{dim0}={size0}, {dim1}={size1}]");
    }

    /// <summary>An optional 1-D argument: empty, or of shape [dim=size].</summary>
    public static void LengthOrEmpty(string kernel, string name, int actual, string dim, long size)
    {
        if (actual != 0 && actual != size) Fail(kernel, name, actual, size, $"[{dim}={size}] or empty");
    }

    /// <summary>An argument that must be as long as another one.</summary>
    public static void SameLength(string kernel, string name, int actual, string otherName, int otherLength)
    {
        if (actual != otherLength) Fail(kernel, name, actual, otherLength, $"[{otherLength}] (the length of {otherName})");
    }

    public static void Fail(string kernel, string name, int actual, long expected, string shape) =>
        throw new ArgumentException($"{kernel}: {name} has {actual} elements but shape {shape} needs {expected}.", name);

    public static void Positive(string kernel, string name, int value)
    {
        if (value <= 0) throw new ArgumentException($"{kernel}: {name} must be positive, got {value}.", name);
    }

    public static void NonNegative(string kernel, string name, int value)
    {
        if (value < 0) throw new ArgumentException($"{kernel}: {name} must not be negative, got {value}.", name);
    }
}
