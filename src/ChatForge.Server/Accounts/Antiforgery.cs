using Microsoft.AspNetCore.Antiforgery;

namespace ChatForge.Server.Accounts;

/// <summary>
/// Browser requests that change state (POST/PUT/PATCH/DELETE under /api, login and register included)
/// must carry the X-CSRF-TOKEN header matching the antiforgery cookie. Requests authenticated with an API
/// key in the Authorization header are not sent by browsers on their own, so they are exempt.
/// </summary>
public static class AntiforgeryCheck
{
    public const string HeaderName = "X-CSRF-TOKEN";

    public static IApplicationBuilder UseAntiforgeryForApi(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        bool unsafeMethod = !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method));
        if (unsafeMethod && request.Path.StartsWithSegments("/api") && !request.Headers.Authorization.Any())
        {
            var antiforgery = context.RequestServices.GetRequiredService<IAntiforgery>();
            if (!await antiforgery.IsRequestValidAsync(context))
            {
                await Http.ErrorHandling.WriteErrorAsync(context, 400,
                    $"Missing or invalid antiforgery token: send the token from GET /api/auth/csrf in the {HeaderName} header.", "invalid_request_error", "antiforgery");
                return;
            }
        }
        await next(context);
    });
}
