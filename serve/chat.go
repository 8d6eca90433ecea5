package serve

// defaultTemplate is the chat template of a model whose folder has none (GPT-2 and other base
// models were not trained on chats): one "role: content" line per message, and "assistant:"
// to prompt the reply. Generation with it also stops at "\nuser:", so a base model does not
// write the user's next turn.
const defaultTemplate = `{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}`

// defaultTemplateStop is the stop sequence added to requests rendered with defaultTemplate.
const defaultTemplateStop = "\nuser:"
