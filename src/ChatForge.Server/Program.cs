using ChatForge.Server;
using ChatForge.Server.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// `make-admin <username>` gives an existing account the admin role (the first registered user is admin already).
if (args.Length >= 1 && args[0] == "make-admin")
{
    if (args.Length < 2) { Console.Error.WriteLine("usage: ChatForge.Server make-admin <username> [--data-dir DIR]"); return 2; }
    var admin = ServerApp.Create(args[2..]);
    var users = admin.Services.GetRequiredService<IUserRepository>();
    var user = await users.FindUserByNameAsync(args[1]);
    if (user is null) { Console.Error.WriteLine($"No user named '{args[1]}'."); return 1; }
    await users.SetRoleAsync(user.Id, Roles.Admin);
    Console.WriteLine($"{user.UserName} is now an admin.");
    return 0;
}

var app = ServerApp.Create(args);
app.Lifetime.ApplicationStarted.Register(() =>
{
    var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
    foreach (var address in addresses) Console.WriteLine($"ChatForge is running at {address}  (Ctrl+C to stop)");
});
await app.RunAsync();
return 0;

public partial class Program;
