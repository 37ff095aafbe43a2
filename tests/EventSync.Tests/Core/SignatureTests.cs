using System.Text;
using EventSync.Core.Configuration;
using EventSync.Core.Signatures;

namespace EventSync.Tests.Core;

/// <summary>The public test vectors of GitHub, Notion and Standard Webhooks, and what must fail.</summary>
public sealed class SignatureTests
{
    private static readonly byte[] GitHubBody = Encoding.UTF8.GetBytes("Hello, World!");
    private const string GitHubSecret = "It's a Secret to Everybody";
    private const string GitHubSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    private const string NotionToken = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
    private static readonly byte[] NotionBody = Encoding.UTF8.GetBytes("{\"verification_token\":\"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl\"}");
    private const string NotionSignature = "sha256=461e8cbcba8a75c3edd866f0e71280f5a85cbf21eff040ebd10fe266df38a735";

    private static readonly byte[] SwKey = ConfigLoader.StandardWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")!;
    private const string SwId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long SwTimestamp = 1614265330;
    private static readonly byte[] SwBody = Encoding.UTF8.GetBytes("{\"test\": 2432232314}");
    private const string SwSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    private static readonly DateTimeOffset SwNow = DateTimeOffset.FromUnixTimeSeconds(SwTimestamp);

    [Fact]
    public void GitHub_vector_signs_and_verifies()
    {
        Assert.Equal(GitHubSignature, HmacSha256Hex.Sign(GitHubBody, GitHubSecret));
        Assert.Equal(SignatureCheck.Valid, HmacSha256Hex.Verify(GitHubBody, GitHubSecret, GitHubSignature));
    }

    [Theory]
    [InlineData(null, SignatureCheck.Missing)]
    [InlineData("", SignatureCheck.Missing)]
    [InlineData("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", SignatureCheck.Malformed)] // no prefix
    [InlineData("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", SignatureCheck.Malformed)]
    [InlineData("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", SignatureCheck.Malformed)] // short
    [InlineData("sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", SignatureCheck.Malformed)]
    [InlineData("sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", SignatureCheck.Mismatch)]
    public void GitHub_rejects_missing_malformed_and_wrong_signatures(string? header, SignatureCheck expected) =>
        Assert.Equal(expected, HmacSha256Hex.Verify(GitHubBody, GitHubSecret, header));

    [Fact]
    public void GitHub_rejects_a_changed_body_or_secret()
    {
        Assert.Equal(SignatureCheck.Mismatch, HmacSha256Hex.Verify(Encoding.UTF8.GetBytes("Hello, World?"), GitHubSecret, GitHubSignature));
        Assert.Equal(SignatureCheck.Mismatch, HmacSha256Hex.Verify(GitHubBody, "another secret", GitHubSignature));
    }

    [Fact]
    public void Notion_vector_verifies_over_raw_bytes()
    {
        Assert.Equal(NotionSignature, HmacSha256Hex.Sign(NotionBody, NotionToken));
        Assert.Equal(SignatureCheck.Valid, HmacSha256Hex.Verify(NotionBody, NotionToken, NotionSignature));
        // Re-serialised JSON (a space) is a different body: verification is over bytes, not over parsed JSON.
        var spaced = Encoding.UTF8.GetBytes("{\"verification_token\": \"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl\"}");
        Assert.Equal(SignatureCheck.Mismatch, HmacSha256Hex.Verify(spaced, NotionToken, NotionSignature));
        Assert.Equal(SignatureCheck.Mismatch, HmacSha256Hex.Verify(NotionBody, "secret_other", NotionSignature));
    }

    [Fact]
    public void Standard_webhooks_vector_signs_and_verifies()
    {
        Assert.Equal(24, SwKey.Length);
        Assert.Equal(SwSignature, StandardWebhookSignature.Sign(SwKey, SwId, SwTimestamp, SwBody));
        Assert.Equal(SignatureCheck.Valid, StandardWebhookSignature.Verify(SwKey, SwId, SwTimestamp.ToString(), SwSignature, SwBody, SwNow, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void Standard_webhooks_accepts_any_matching_v1_entry_and_skips_other_versions()
    {
        var rotated = $"v1a,ignoredEd25519 v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SwSignature}";
        Assert.Equal(SignatureCheck.Valid, StandardWebhookSignature.Verify(SwKey, SwId, SwTimestamp.ToString(), rotated, SwBody, SwNow, TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData(null, "1614265330", SwSignature, SignatureCheck.Missing)]
    [InlineData(SwId, null, SwSignature, SignatureCheck.Missing)]
    [InlineData(SwId, "1614265330", null, SignatureCheck.Missing)]
    [InlineData(SwId, "16142x5330", SwSignature, SignatureCheck.Malformed)]
    [InlineData(SwId, "1614265330", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SignatureCheck.Malformed)]
    [InlineData(SwId, "1614265330", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", SignatureCheck.Mismatch)]
    [InlineData("msg_other", "1614265330", SwSignature, SignatureCheck.Mismatch)]
    [InlineData(SwId, "1614265331", SwSignature, SignatureCheck.Mismatch)]
    public void Standard_webhooks_rejects_bad_headers(string? id, string? timestamp, string? signature, SignatureCheck expected) =>
        Assert.Equal(expected, StandardWebhookSignature.Verify(SwKey, id, timestamp, signature, SwBody, SwNow, TimeSpan.FromMinutes(5)));

    [Fact]
    public void Standard_webhooks_enforces_the_timestamp_tolerance()
    {
        var tolerance = TimeSpan.FromMinutes(5);
        Assert.Equal(SignatureCheck.Valid, StandardWebhookSignature.Verify(SwKey, SwId, SwTimestamp.ToString(), SwSignature, SwBody, SwNow + tolerance, tolerance));
        Assert.Equal(SignatureCheck.TimestampTooOld, StandardWebhookSignature.Verify(SwKey, SwId, SwTimestamp.ToString(), SwSignature, SwBody, SwNow + tolerance + TimeSpan.FromSeconds(1), tolerance));
        Assert.Equal(SignatureCheck.TimestampTooNew, StandardWebhookSignature.Verify(SwKey, SwId, SwTimestamp.ToString(), SwSignature, SwBody, SwNow - tolerance - TimeSpan.FromSeconds(1), tolerance));
    }

    [Theory]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true)]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true)]
    [InlineData("whsec_c2hvcnQ=", false)] // 5 bytes: too short
    [InlineData("whsec_not base64!", false)]
    public void Standard_webhook_secrets_are_checked(string secret, bool valid) =>
        Assert.Equal(valid, ConfigLoader.StandardWebhookSecret(secret) is not null);
}
