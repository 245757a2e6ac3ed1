using ChatForge.Engine.Inference;

namespace ChatForge.Engine.Tests.Inference;

public class WeightFormatsTests
{
    [Theory]
    [InlineData("auto", "models/qwen-q4_k_m.gguf", WeightFormat.Gguf)]
    [InlineData("AUTO", "/x/Model.GGUF", WeightFormat.Gguf)]
    [InlineData("auto", "models/default", WeightFormat.Bf16)]
    [InlineData("q8_0", "models/qwen-q4_k_m.gguf", WeightFormat.Q8_0)]
    [InlineData("f32", "models/default", WeightFormat.F32)]
    public void Auto_serves_a_gguf_file_on_its_blocks_and_anything_else_as_bf16(string value, string model, WeightFormat expected) =>
        Assert.Equal(expected, WeightFormats.ParseFor(value, model));

    [Fact]
    public void An_unknown_format_is_named_with_the_setting_and_the_choices()
    {
        var error = Assert.Throws<ArgumentException>(() => WeightFormats.ParseFor("q3_k", "m.gguf", "ChatForge:Weights"));
        Assert.Contains("ChatForge:Weights", error.Message);
        Assert.Contains("q3_k", error.Message);
        Assert.Contains("auto", error.Message);
    }
}
