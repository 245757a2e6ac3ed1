using Microsoft.Playwright;

namespace ChatForge.Server.Tests;

/// <summary>
/// The web app in Debian's Chromium: register → log in → chat with streaming → Continue → 👎 with a
/// comment → reload shows the history and the vote. Also: markup in messages stays text, and the page
/// works at phone width. With CHATFORGE_UPDATE_SCREENSHOTS=1 it saves docs/screenshots/chat.png.
/// </summary>
public sealed class BrowserTests
{
    const string Chromium = "/usr/bin/chromium";

    static async Task<(IPlaywright, IBrowser)> LaunchAsync()
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        return (playwright, browser);
    }

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ChatForge.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("ChatForge.slnx not found above " + AppContext.BaseDirectory);
    }

    [SkippableFact]
    public async Task Register_chat_continue_downvote_and_reload()
    {
        Skip.IfNot(File.Exists(Chromium), "Chromium is not installed at /usr/bin/chromium (run .ci/setup).");
        await using var server = await LoopbackServer.StartAsync();
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { Locale = "en-US", ViewportSize = new ViewportSize { Width = 1100, Height = 720 } });
        var page = await context.NewPageAsync();
        var failedRequests = new List<string>();
        page.RequestFailed += (_, r) => { if (!r.Url.StartsWith(server.Url)) failedRequests.Add(r.Url); };
        var consoleErrors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") consoleErrors.Add(m.Text); };
        page.PageError += (_, e) => consoleErrors.Add(e);
        page.Response += (_, r) => { if (r.Status >= 400) consoleErrors.Add($"{r.Status} {r.Url}"); };
        var scriptRan = false;
        page.Dialog += async (_, d) => { scriptRan |= d.Message.Contains("pwned"); await d.DismissAsync(); };

        await page.GotoAsync(server.Url);
        await page.ClickAsync("#auth-toggle"); // register
        await page.FillAsync("#username", "browser_user");
        await page.FillAsync("#password", "browser password 1");
        await page.ClickAsync("#auth-submit");
        await page.WaitForSelectorAsync("#app:not([hidden])");
        // Log out and in again.
        await page.ClickAsync("#logout");
        await page.WaitForSelectorAsync("#auth:not([hidden])");
        await page.FillAsync("#username", "browser_user");
        await page.FillAsync("#password", "browser password 1");
        await page.ClickAsync("#auth-submit");
        await page.WaitForSelectorAsync("#app:not([hidden])");

        // Chat with streaming: the answer appears and ends at the length cap, offering Continue.
        const string question = "Hello! Show me <script>alert('pwned')</script> as text, and **bold**.";
        await page.FillAsync("#input", question);
        await page.PressAsync("#input", "Enter");
        var cont = page.Locator(".msg.assistant .continue");
        await cont.WaitForAsync(new LocatorWaitForOptions { Timeout = 30000 });
        var userText = await page.Locator(".msg.user .body").First.TextContentAsync();
        Assert.Equal(question, userText); // shown as text, not markup
        Assert.Equal(0, await page.Locator(".msg script").CountAsync());
        string first = (await page.Locator(".msg.assistant .body").TextContentAsync())!.Trim();
        Assert.NotEmpty(first);

        await cont.ClickAsync();
        await page.WaitForFunctionAsync("n => document.querySelector('.msg.assistant .body').textContent.trim().length > n && document.querySelector('.msg.assistant .continue')", first.Length,
            new PageWaitForFunctionOptions { Timeout = 30000 });
        string continued = (await page.Locator(".msg.assistant .body").TextContentAsync())!.Trim();
        Assert.StartsWith(first, continued);
        Assert.Equal(1, await page.Locator(".msg.assistant").CountAsync()); // the same answer grew

        // 👎 with a comment.
        await page.ClickAsync(".msg.assistant .vote-down");
        await page.FillAsync(".feedback-form input", "Too random");
        await page.ClickAsync(".feedback-form button");
        await page.WaitForSelectorAsync(".msg.assistant .comment");

        await page.ReloadAsync();
        await page.WaitForSelectorAsync(".msg.assistant .vote-down.on");
        Assert.Equal(continued, (await page.Locator(".msg.assistant .body").TextContentAsync())!.Trim());
        Assert.Contains("Too random", await page.Locator(".msg.assistant .comment").TextContentAsync());
        Assert.Equal(question, await page.Locator(".msg.user .body").TextContentAsync());
        Assert.False(scriptRan);
        Assert.Empty(failedRequests); // nothing from a CDN: the app works offline

        // docs/screenshots/chat.png is refreshed on request only, so test runs leave the work tree clean.
        using var temp = new TempDir();
        string shots = Environment.GetEnvironmentVariable("CHATFORGE_UPDATE_SCREENSHOTS") == "1" ? Path.Combine(RepoRoot(), "docs", "screenshots") : temp.Path;
        Directory.CreateDirectory(shots);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "chat.png"), Type = ScreenshotType.Png });
        Assert.True(new FileInfo(Path.Combine(shots, "chat.png")).Length > 5000);

        // Phone width: the sidebar folds away, the composer stays usable, the page switches to Chinese.
        await page.SetViewportSizeAsync(390, 760);
        Assert.True(await page.Locator("#input").IsVisibleAsync());
        Assert.True(await page.Locator("#menu").IsVisibleAsync());
        await page.ClickAsync("#menu");
        await page.ClickAsync(".sidebar .lang-toggle");
        Assert.Equal("+ 新对话", await page.Locator("#new-chat").TextContentAsync());
        Assert.Equal("继续", await page.Locator(".msg.assistant .continue").TextContentAsync());

        // The admin page shows the 👎 in the feedback statistics of the model version.
        await page.SetViewportSizeAsync(1100, 720);
        await page.GotoAsync(server.Url + "/admin.html");
        var statsRow = page.Locator("#stats tr").Nth(1);
        await statsRow.WaitForAsync();
        Assert.Contains("0.0 %", await statsRow.TextContentAsync());
        Assert.Contains("browser_user", await page.Locator("#users").TextContentAsync());
        Assert.Empty(consoleErrors);
    }

    [SkippableFact]
    public async Task The_page_follows_a_chinese_browser()
    {
        Skip.IfNot(File.Exists(Chromium), "Chromium is not installed at /usr/bin/chromium (run .ci/setup).");
        await using var server = await LoopbackServer.StartAsync();
        var (playwright, browser) = await LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await (await browser.NewContextAsync(new BrowserNewContextOptions { Locale = "zh-CN" })).NewPageAsync();
        await page.GotoAsync(server.Url);
        await page.WaitForSelectorAsync("#auth:not([hidden])");
        Assert.Equal("登录", await page.Locator("#auth-submit").TextContentAsync());
    }
}
