using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MeowRobot.Hosting.Configuration;

/// <summary>
/// The one way a service declares its options: a plain class with DataAnnotations (and IValidatableObject for rules
/// across keys), bound from one configuration section and validated when the host starts, so a bad configuration stops
/// the service before it does anything, with every problem named by key.
/// <code>builder.Services.AddValidatedOptions&lt;ControllerOptions&gt;(builder.Configuration, "Controller");</code>
/// </summary>
public static class ValidatedOptions
{
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentException.ThrowIfNullOrEmpty(section);
        // Binding problems are reported by the validator, together with the rules' failures, so one start lists them all.
        IReadOnlyList<string> bindingProblems = [];
        services.AddSingleton<IValidateOptions<TOptions>>(new AnnotatedOptionsValidator<TOptions>(section, configuration, () => bindingProblems));
        services.AddSingleton(new ValidatedSection(section, sp => sp.GetRequiredService<IOptions<TOptions>>().Value));
        return services.AddOptions<TOptions>()
            .Configure(options => bindingProblems = OptionsBinding.Bind(configuration, section, options))
            .ValidateOnStart();
    }
}

/// <summary>A section registered with <see cref="ValidatedOptions.AddValidatedOptions{TOptions}"/>: <c>serve --check</c> prints them.</summary>
public sealed record ValidatedSection(string Section, Func<IServiceProvider, object> Value);
