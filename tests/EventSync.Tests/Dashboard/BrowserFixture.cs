using Microsoft.Playwright;

namespace EventSync.Tests.Dashboard;

/// <summary>
/// One headless Chromium for the dashboard tests: Debian's chromium package driven by Playwright (no browser download).
/// A missing Chromium fails the tests with the install command, never skips them: CI installs it, so a skip would
/// hide a broken install step.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public static readonly string[] Candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("the browser did not start");

    /// <summary>Where screenshots go: .artifacts/screenshots/ at the repository root (kept by CI as test artefacts).</summary>
    public static string ScreenshotDirectory { get; } = CreateScreenshotDirectory();

    public async Task InitializeAsync()
    {
        var path = Candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"Chromium is not installed (looked for {string.Join(", ", Candidates)}). The dashboard tests drive Debian's chromium package: install it with `sudo apt-get install -y chromium` (.ci/run installs it).");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = path, Headless = true, Args = ["--disable-dev-shm-usage", "--disable-gpu"] });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }

    private static string CreateScreenshotDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "EventSync.sln"))) continue;
            var path = Path.Combine(dir.FullName, ".artifacts", "screenshots");
            Directory.CreateDirectory(path);
            return path;
        }
        throw new InvalidOperationException($"no EventSync.sln above {AppContext.BaseDirectory}");
    }
}
