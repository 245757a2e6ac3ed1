using ChatForge.Training.Evaluation;

namespace ChatForge.Training.Tests;

public class AnswerCheckTests
{
    [Theory]
    [InlineData("87 × 14 = 1218。", true)]
    [InlineData("等于1218。", true)]
    [InlineData("It's 1,218.", true)]
    [InlineData("1218", true)]
    [InlineData("87 × 14 = 1208。", false)]
    [InlineData("1218 is not it, 1208.", false)] // the last number stated is the answer
    [InlineData("87 × 14", false)]
    [InlineData("I don't know 1218", false)]
    public void Arithmetic_is_judged_on_the_last_number(string answer, bool correct) =>
        Assert.Equal(correct, AnswerCheck.IsCorrect(answer, ["1218"]));

    [Theory]
    [InlineData("542 - 550 = -8.", "-8")]
    [InlineData("542 - 534 = 8。", "8")]
    [InlineData("542-534=8", "8")]
    [InlineData("no digits", null)]
    public void Minus_is_a_sign_only_before_a_digit_and_not_after_one(string text, string? expected) =>
        Assert.Equal(expected, AnswerCheck.LastInteger(text));

    [Fact]
    public void Word_answers_use_the_normalising_matcher()
    {
        Assert.True(AnswerCheck.IsCorrect("The capital is Paris.", ["Paris"]));
        Assert.False(AnswerCheck.IsCorrect("The capital is Lyon.", ["Paris"]));
        Assert.False(AnswerCheck.IsCorrect("anything", []));
    }

    [Fact]
    public void A_capped_evaluation_keeps_every_task_and_language()
    {
        var items = Enumerable.Range(0, 100).Select(i => Item($"t{i}", "translate", "en"))
            .Concat(Enumerable.Range(0, 3).Select(i => Item($"c{i}", "capital", "zh"))).ToList();
        var taken = EvalRunner.Stratified(items, 10);
        Assert.Equal(10, taken.Count);
        Assert.Equal(3, taken.Count(t => t.Task == "capital"));
        Assert.Equal(["t0", "t1", "t2", "t3", "t4", "t5", "t6"], taken.Where(t => t.Task == "translate").Select(t => t.Id)); // file order kept
    }

    static ChatForge.Data.Dialogues.EvalRecord Item(string id, string task, string lang) =>
        new(id, task, lang, "heldout", [new("user", "q")], ["a"]);
}
