using ChatForge.Engine.Training;

namespace ChatForge.Engine.Tests.Training;

public class PretrainDataManifestTests
{
    static void Shards(TempDir dir)
    {
        Directory.CreateDirectory(dir.File("train"));
        Directory.CreateDirectory(dir.File("val"));
        TokenShard.Write(Path.Combine(dir.File("train"), "000.bin"), [1, 2, 3, 4], 10);
        TokenShard.Write(Path.Combine(dir.File("val"), "000.bin"), [4, 3, 2, 1], 10);
    }

    [Fact]
    public void Bits_per_byte_ratio_comes_from_the_validation_split_that_data_tokenize_describes()
    {
        using var dir = new TempDir();
        Shards(dir);
        File.WriteAllText(dir.File("manifest.json"), """{"vocabSize":10,"splits":{"train":{"bytesPerToken":3.5},"val":{"bytesPerToken":4.0}}}""");
        using var data = PretrainData.Open(dir.Path);
        Assert.Equal(0.25, data.TokensPerByte!.Value, 12);
    }

    [Fact]
    public void Without_a_manifest_the_ratio_is_unknown_and_a_broken_one_is_named()
    {
        using var dir = new TempDir();
        Shards(dir);
        using (var data = PretrainData.Open(dir.Path)) Assert.Null(data.TokensPerByte);
        File.WriteAllText(dir.File("manifest.json"), "{ broken");
        var e = Assert.Throws<InvalidDataException>(() => PretrainData.Open(dir.Path));
        Assert.Contains("manifest.json", e.Message);
    }
}
