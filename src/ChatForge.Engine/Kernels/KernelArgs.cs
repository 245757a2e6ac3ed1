namespace ChatForge.Engine.Kernels;

/// <summary>Argument checks shared by the kernels: every message names the kernel, the argument, the expected shape and what was passed.</summary>
internal static class KernelArgs
{
    public static void Length(string kernel, string name, int actual, long expected, string shape)
    {
        if (actual != expected)
            throw new ArgumentException($"{kernel}: {name} has {actual} elements but shape {shape} needs {expected}.", name);
    }

    public static void LengthOrEmpty(string kernel, string name, int actual, long expected, string shape)
    {
        if (actual != 0) Length(kernel, name, actual, expected, shape);
    }

    public static void Positive(string kernel, string name, int value)
    {
        if (value <= 0) throw new ArgumentException($"{kernel}: {name} must be positive, got {value}.", name);
    }

    public static void NonNegative(string kernel, string name, int value)
    {
        if (value < 0) throw new ArgumentException($"{kernel}: {name} must not be negative, got {value}.", name);
    }

    /// <summary>Shape text such as "[n=4, c=32]".</summary>
    public static string Shape(string a, long av, string b, long bv) => $"[{a}={av}, {b}={bv}]";
}
