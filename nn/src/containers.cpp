#include "ember/nn/containers.h"

namespace ember::nn {

std::shared_ptr<Module> ModuleSequence::ptr(size_t index) const {
  EMBER_CHECK(index < size(), "{}: index {} is out of range for {} modules", name(), index, size());
  return child_entries()[index].second;
}

SequentialImpl::SequentialImpl(std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules) {
  for (auto& [name, module] : named_modules) append(std::move(name), std::move(module));
}

Tensor SequentialImpl::forward(const Tensor& input) {
  Tensor output = input;
  for (const auto& [name, module] : child_entries()) output = module->forward(output);
  return output;
}

void ModuleListImpl::extend(const ModuleListImpl& other) {
  for (const std::shared_ptr<Module>& module : other) push_back(module);
}

ModuleDictImpl::ModuleDictImpl(std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules) {
  update(named_modules);
}

bool ModuleDictImpl::contains(const std::string& key) const {
  for (const auto& [name, module] : child_entries()) {
    if (name == key) return true;
  }
  return false;
}

std::shared_ptr<Module> ModuleDictImpl::operator[](const std::string& key) const {
  for (const auto& [name, module] : child_entries()) {
    if (name == key) return module;
  }
  std::string known;
  for (const auto& [name, module] : child_entries()) known += (known.empty() ? "" : ", ") + name;
  fail("{}: no module named '{}' (keys: [{}])", this->name(), key, known);
}

std::vector<std::string> ModuleDictImpl::keys() const {
  std::vector<std::string> result;
  for (const auto& [name, module] : child_entries()) result.push_back(name);
  return result;
}

std::vector<std::shared_ptr<Module>> ModuleDictImpl::values() const {
  std::vector<std::shared_ptr<Module>> result;
  for (const auto& [name, module] : child_entries()) result.push_back(module);
  return result;
}

void ModuleDictImpl::update(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_modules) {
  for (const auto& [key, module] : named_modules) insert_pointer(key, module);
}

void ModuleDictImpl::insert_pointer(std::string key, std::shared_ptr<Module> module) {
  if (contains(key)) replace_child(key, std::move(module));
  else add_child(std::move(key), std::move(module));
}

}  // namespace ember::nn
