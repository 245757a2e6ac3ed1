using System.Net;
using ChatForge.Tokenizer;
using ChatForge.Training.Formats;
using ChatForge.Training.Reward;
using ChatForge.Training.Stages;

namespace ChatForge.Server.Tests;

/// <summary>The data loop closes: votes collected by the server, exported as rankings, train a reward model.</summary>
public sealed class ExportTrainingTests
{
    [Fact]
    public async Task Exported_votes_and_rankings_train_a_reward_model()
    {
        using var factory = new ServerFactory();
        var admin = await factory.UserAsync("admin");
        for (int i = 0; i < 2; i++)
        {
            string chat = await admin.CreateChatAsync();
            var first = (await admin.StreamAsync($"/api/chats/{chat}/messages", new { content = $"Question {i}?" }))[^1].Data;
            var second = (await admin.StreamAsync($"/api/chats/{chat}/messages/{first["message_id"]}/regenerate"))[^1].Data;
            await Api.ExpectAsync(await admin.PutAsync($"/api/chats/{chat}/messages/{first["message_id"]}/feedback", new { rating = -1 }), HttpStatusCode.OK);
            await Api.ExpectAsync(await admin.PutAsync($"/api/chats/{chat}/messages/{second["message_id"]}/feedback", new { rating = 1 }), HttpStatusCode.OK);
        }
        await Api.ExpectAsync(await admin.PostAsync("/api/trainer/rankings", new
        {
            messages = new[] { new { role = "user", content = "你好" } }, answers = new[] { "你好！很高兴见到你。", "走开" },
        }), HttpStatusCode.Created);

        using var temp = new TempDir();
        string file = temp.Sub("rankings.jsonl");
        await File.WriteAllTextAsync(file, await admin.Http.GetStringAsync("/api/admin/export/rankings"));
        var rankings = Jsonl.ReadRankings(file); // the rm and dpo stages' own reader and validation
        Assert.Equal(3, rankings.Count);

        await Api.ExpectAsync(await admin.PostAsync("/api/trainer/demonstrations", new
        {
            messages = new[] { new { role = "user", content = "Say hi" }, new { role = "assistant", content = "Hi!" } },
        }), HttpStatusCode.Created);
        string sftFile = temp.Sub("sft.jsonl");
        await File.WriteAllTextAsync(sftFile, await admin.Http.GetStringAsync("/api/admin/export/demonstrations"));
        Assert.Single(Jsonl.ReadSft(sftFile)); // the sft stage's reader accepts the export

        var trainer = RewardTrainer.Start(TestModels.Default, temp.Sub("rm-run"), ChatTokenizer.Load(TestModels.Default), rankings, rankings,
            new StageOptions { Steps = 2, Batch = 1, SequenceLength = 96, WarmupSteps = 1, EvalEvery = 2, CheckpointEvery = 2 });
        var summary = trainer.Run();
        Assert.Equal(2, summary.Step);
        Assert.All(summary.Losses, l => Assert.True(float.IsFinite(l)));
    }
}
