"""GitOps ("ClickOps") playbooks: changes proposed as pull requests, tracked until Flux applied them."""
