"""Email steps: settings, template rendering, header checks and delivery providers.

The flow for one customer is compile_template (once per template) -> CompiledTemplate.render
-> build_email -> EmailProvider.send, with customer_variables building the render input.
"""
