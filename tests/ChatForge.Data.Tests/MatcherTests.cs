using ChatForge.Data.Dialogues;

namespace ChatForge.Data.Tests;

public class MatcherTests
{
    [Theory]
    [InlineData("Paris", "paris")]
    [InlineData("The answer is Paris.", "Paris")]
    [InlineData("The capital of France is Paris.", "Paris")]
    [InlineData("ＰＡＲＩＳ！", "Paris")]
    [InlineData("答案是：巴黎。", "巴黎")]
    [InlineData("法国的首都是巴 黎。", "巴黎")]
    [InlineData("37 + 45 = 82.", "82")]
    [InlineData("“床前明月光”的下一句是“疑是地上霜”。", "疑是地上霜")]
    public void Matches(string model, string accepted) => Assert.True(AnswerMatcher.IsMatch(model, [accepted]));

    [Theory]
    [InlineData("Parisian", "Paris")]
    [InlineData("The capital of France is Lyon.", "Paris")]
    [InlineData("37 + 45 = 83.", "82")]
    [InlineData("820", "82")]
    [InlineData("疑是天上霜", "疑是地上霜")]
    [InlineData("", "Paris")]
    public void Does_not_match(string model, string accepted) => Assert.False(AnswerMatcher.IsMatch(model, [accepted]));

    [Fact]
    public void A_long_list_of_guesses_does_not_match()
    {
        var guesses = "It could be " + string.Join(", ", Enumerable.Range(0, 30).Select(i => $"City{i}")) + " or Paris.";
        Assert.False(AnswerMatcher.IsMatch(guesses, ["Paris"]));
    }

    [Fact]
    public void Traditional_answers_match_simplified_gold_with_a_converter()
    {
        Assert.True(AnswerMatcher.IsMatch("舉頭", ["举头"], Fixtures.T2S()));
        Assert.False(AnswerMatcher.IsMatch("舉頭", ["举头"]));
    }

    [Theory]
    [InlineData("我不知道。", true)]
    [InlineData("抱歉，我不清楚“某词”的意思。", true)]
    [InlineData("Sorry, I don't know.", true)]
    [InlineData("I'm not sure what it means.", true)]
    [InlineData("The capital is Paris.", false)]
    public void Refusals(string answer, bool refusal) => Assert.Equal(refusal, AnswerMatcher.IsRefusal(answer));
}
